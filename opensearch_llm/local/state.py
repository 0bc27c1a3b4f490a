"""What a running local instance is (``NodeInfo`` in its instance.json), and whether it answers."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

import requests

from opensearch_llm.local import process, security
from opensearch_llm.paths import instances_dir

log = logging.getLogger(__name__)
REQUIRED_PLUGINS = ("opensearch-ml", "opensearch-job-scheduler")
SECURE_PLUGINS = (*REQUIRED_PLUGINS, "opensearch-security")
_SECURE_FIELDS = ("secure", "username", "ca_certs", "password_file", "ml_user", "ml_password_file")


@dataclass(frozen=True)
class NodeInfo:
    """What `local start --json` prints about a running instance.

    A cluster (``local start --nodes N``) is one instance too: ``url`` and ``pid`` are its first
    node's, and ``nodes`` lists every node (name, roles, ports, pid, dir); a single node has none.
    """

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
    nodes: Optional[list[dict]] = None

    def to_dict(self) -> dict:
        data = asdict(self)
        if not self.secure:  # a plain node's output stays as it always was
            for key in _SECURE_FIELDS:
                data.pop(key)
        if self.nodes is None:
            data.pop("nodes")
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


def write_state(info: NodeInfo) -> None:
    """Record ``info`` as its instance's state (``<dir>/instance.json``)."""
    (Path(info.dir) / "instance.json").write_text(json.dumps(info.to_dict(), indent=2))


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

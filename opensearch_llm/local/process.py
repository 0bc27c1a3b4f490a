"""Process helpers: the unprivileged user, port checks, finding and stopping node processes."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from opensearch_llm.errors import LocalNodeError, PortInUseError
from opensearch_llm.paths import RUN_AS_USER, is_root


def ensure_user(name: str = RUN_AS_USER) -> pwd.struct_passwd:
    """Return the unprivileged user OpenSearch runs as under root, creating it if needed."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    useradd = shutil.which("useradd")
    if not useradd:
        raise LocalNodeError(
            f"OpenSearch refuses to run as root and user {name!r} does not exist",
            hint=f"create it (useradd --system {name}) or run as a normal user",
        )
    subprocess.run([useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                   check=True, capture_output=True)
    return pwd.getpwnam(name)


def chown_tree(root: Path, user: pwd.struct_passwd) -> None:
    """Give ``root`` and everything below it to ``user``."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
            os.lchown(name, user.pw_uid, user.pw_gid)


def run_as(node_dir: Path) -> dict[str, Any]:
    """Popen keyword arguments that run a node as the unprivileged user when we are root, else ``{}``.

    Under root ``node_dir`` (config, data, logs) is given to that user first.
    """
    if not is_root():
        return {}
    user = ensure_user()
    chown_tree(node_dir, user)
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def spawn(home: Path, node_dir: Path, env: Mapping[str, str], user_kwargs: Mapping[str, Any]) -> subprocess.Popen:
    """Start ``bin/opensearch`` of ``home`` for the node whose files are under ``node_dir``.

    The node writes its pid to ``node_dir``/node.pid and its stdout to logs/stdout.log; it runs in a
    session of its own, so a Ctrl-C in the caller's terminal does not reach it.
    """
    for stale in ("logs/http.ports", "node.pid"):
        (node_dir / stale).unlink(missing_ok=True)
    stdout = (node_dir / "logs" / "stdout.log").open("ab")
    try:
        return subprocess.Popen(
            [str(home / "bin" / "opensearch"), "-p", str(node_dir / "node.pid")],
            cwd=str(home), env=dict(env), stdout=stdout, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, **user_kwargs,
        )
    finally:
        stdout.close()


def traversable_by_others(path: Path) -> bool:
    """True when every parent of ``path`` lets other users through (o+x)."""
    for parent in [path, *path.parents]:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            return False
    return True


def check_port_free(port: int, host: str = "127.0.0.1") -> None:
    """Raise PortInUseError when ``host:port`` cannot be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PortInUseError(
                f"port {port} on {host} is already in use",
                hint="choose another with --port, or omit --port for a free one",
            ) from exc


def pid_alive(pid: Optional[int]) -> bool:
    """True when a process with ``pid`` exists and is not a zombie."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and ") Z" in stat.read_text(errors="replace"))


def pids_matching(marker: str) -> list[int]:
    """Pids of live processes whose command line contains ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def instance_pids(instance: Path) -> list[int]:
    """Pids of every node process of the instance in ``instance``: its single node, or each node of its cluster."""
    return pids_matching(str(instance).rstrip(os.sep) + os.sep)


def terminate(pids: list[int], grace: float = 20.0,
              sleep: Callable[[float], None] = time.sleep) -> list[int]:
    """SIGTERM ``pids``, wait up to ``grace`` seconds, SIGKILL survivors; return any still alive."""
    pids = _signal_and_wait(pids, signal.SIGTERM, grace, sleep)
    return _signal_and_wait(pids, signal.SIGKILL, 5.0, sleep) if pids else []


def kill(pids: list[int], sleep: Callable[[float], None] = time.sleep) -> list[int]:
    """SIGKILL ``pids`` (no shutdown at all, as in a crash); return any still alive after 5 s."""
    return _signal_and_wait(pids, signal.SIGKILL, 5.0, sleep)


def _signal_and_wait(pids: list[int], sig: int, wait: float, sleep: Callable[[float], None]) -> list[int]:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        sleep(0.1)
    return [p for p in pids if pid_alive(p)]

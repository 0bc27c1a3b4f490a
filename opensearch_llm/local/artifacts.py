"""Fetch the OpenSearch integ-test zip and the plugin zips with mvn, verify and install them."""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import subprocess
import zipfile
from pathlib import Path
from typing import Callable, Mapping, Optional

from opensearch_llm.errors import DownloadError, LocalNodeError
from opensearch_llm.local.java import Jdk
from opensearch_llm.local.maven import (  # noqa: F401 - Artifact, fetch and artifacts_for are used from here too
    PLUGINS, SECURE_PLUGINS, Artifact, artifacts_for, fetch, security_artifact,
)
from opensearch_llm.paths import cache_dir, runtime_dir

log = logging.getLogger(__name__)

def fetch_all(version: str, env: Optional[Mapping[str, str]] = None, secure: bool = False) -> list[Path]:
    """Fetch and verify every zip for ``version`` into the cache dir; return their paths (install order)."""
    env = os.environ if env is None else env
    if secure:
        fetch_security(version, env)  # first: the one most likely to be missing
    return [fetch(a, cache_dir(env) / "zips" / version, env) for a in artifacts_for(version, secure)]


def fetch_security(version: str, env: Optional[Mapping[str, str]] = None) -> Path:
    """Fetch the security plugin zip of ``version``; a missing one is an error naming the version that has it."""
    from opensearch_llm.local.versions import SECURE_VERSION

    env = os.environ if env is None else env
    artifact = security_artifact(version)
    try:
        return fetch(artifact, cache_dir(env) / "zips" / version, env)
    except DownloadError as exc:
        if version == SECURE_VERSION:
            raise
        raise LocalNodeError(
            f"--secure needs the security plugin zip {artifact.coordinates}, which could not be fetched for "
            f"OpenSearch {version}; {SECURE_VERSION} is the version whose four zips are all on Maven Central",
            hint=f"use --secure without --version (that is {SECURE_VERSION}), or --version {SECURE_VERSION}",
        ) from exc


def _unzip(zip_path: Path, into: Path) -> None:
    if shutil.which("unzip"):
        subprocess.run(["unzip", "-q", "-o", str(zip_path), "-d", str(into)], check=True)
        return
    with zipfile.ZipFile(zip_path) as zf:  # zipfile drops exec bits: restore them from the headers
        for info in zf.infolist():
            out = Path(zf.extract(info, into))
            mode = info.external_attr >> 16
            if mode:
                out.chmod(mode)


def _install_plugin(home: Path, zip_path: Path, jdk: Jdk) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OPENSEARCH_JAVA_HOME": jdk.home}
    proc = subprocess.run(
        [str(home / "bin" / "opensearch-plugin"), "install", "--batch", zip_path.resolve().as_uri()],
        capture_output=True, text=True, env=env, timeout=600,
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise LocalNodeError(f"installing {zip_path.name} failed: {' / '.join(tail)}")


def _make_world_readable(root: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            mode = p.lstat().st_mode
            if stat.S_ISLNK(mode):
                continue
            extra = stat.S_IRGRP | stat.S_IROTH
            if stat.S_ISDIR(mode) or mode & stat.S_IXUSR:
                extra |= stat.S_IXGRP | stat.S_IXOTH
            p.chmod(mode | extra)
    root.chmod(root.stat().st_mode | 0o755)


def _installed(marker: Path, plugins: list[str]) -> bool:
    """True when ``marker`` records exactly ``plugins``: a tree built for another set is rebuilt."""
    try:
        return json.loads(marker.read_text()).get("plugins") == plugins
    except (OSError, ValueError, AttributeError):
        return False


def install(version: str, jdk: Jdk, env: Optional[Mapping[str, str]] = None,
            progress: Callable[[str], None] = lambda _m: None, secure: bool = False) -> Path:
    """Return an installed OpenSearch home for ``version`` with its plugins (cached, built once).

    The plugins are :data:`PLUGINS`; ``secure`` installs :data:`SECURE_PLUGINS` instead (the security plugin
    last, no k-NN), in a tree of its own (``opensearch-X-secure``).  A cached tree whose marker records another
    set of plugins (one built before k-NN was added) is rebuilt.
    """
    env = os.environ if env is None else env
    if env.get("OPENSEARCH_HOME"):
        return _given_home(Path(env["OPENSEARCH_HOME"]), secure)
    base = runtime_dir(env) / "dist"
    home = base / (f"opensearch-{version}-secure" if secure else f"opensearch-{version}")
    marker = home / ".opensearch-llm-installed.json"
    plugins = list(SECURE_PLUGINS if secure else PLUGINS)
    if _installed(marker, plugins):
        return home
    if marker.exists():
        progress(f"rebuilding the installed OpenSearch {version}: its plugins change to {', '.join(plugins)}")
    progress(f"fetching OpenSearch {version} and its plugins with mvn (cached after the first run)")
    dist_zip, *plugin_zips = fetch_all(version, env, secure=secure)
    progress(f"installing OpenSearch {version} with job-scheduler, ML Commons and {'security' if secure else 'k-NN'}")
    staging = base / f".staging-{version}{'-secure' if secure else ''}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        _unzip(dist_zip, staging)
        tree = staging / f"opensearch-{version}"
        if not secure:
            _add_painless(tree, version, env, progress)
        for zip_path in plugin_zips:
            _install_plugin(tree, zip_path, jdk)
        (tree / marker.name).write_text(json.dumps({"version": version, "plugins": plugins}))
        _make_world_readable(tree)
        shutil.rmtree(home, ignore_errors=True)
        tree.rename(home)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    base.chmod(0o755)
    return home


def _given_home(home: Path, secure: bool) -> Path:
    """``$OPENSEARCH_HOME`` as it is; with ``secure`` it must have the security plugin."""
    if secure and not (home / "plugins" / "opensearch-security").is_dir():
        raise LocalNodeError(f"OPENSEARCH_HOME ({home}) has no security plugin, which --secure needs",
                             hint="unset OPENSEARCH_HOME to use the launcher's own installation")
    return home


def _add_painless(tree: Path, version: str, env: Mapping[str, str], progress: Callable[[str], None]) -> None:
    """k-NN extends lang-painless: assemble the module from Maven Central jars when the distribution lacks it (2.x)."""
    from opensearch_llm.local import painless

    if painless.missing(tree):
        progress(f"assembling modules/lang-painless {version} (which k-NN extends) from its Maven Central jars")
        painless.assemble(tree, version, painless.fetch_jars(version, env))

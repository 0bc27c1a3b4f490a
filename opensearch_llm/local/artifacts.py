"""Fetch the OpenSearch integ-test zip and the plugin zips with mvn, verify and install them."""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Optional

from opensearch_llm.errors import DownloadError, LocalNodeError
from opensearch_llm.local.java import Jdk
from opensearch_llm.local.paths import cache_dir, runtime_dir

log = logging.getLogger(__name__)

DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
PLUGINS = ("opensearch-job-scheduler", "opensearch-ml", "opensearch-knn")  # install order: job-scheduler first
SECURE_PLUGINS = ("opensearch-job-scheduler", "opensearch-ml", "opensearch-security")  # the secured tree: no k-NN
MVN_TIMEOUT = 1800.0


@dataclass(frozen=True)
class Artifact:
    """One Maven artifact of the local distribution (a zip, or a jar or pom of an assembled module)."""

    group: str
    artifact: str
    version: str
    packaging: str = "zip"

    @property
    def coordinates(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version}:{self.packaging}"

    @property
    def filename(self) -> str:
        return f"{self.artifact}-{self.version}.{self.packaging}"


def artifacts_for(version: str, secure: bool = False) -> list[Artifact]:
    """The four zips that make a local node of ``version``, in install order.

    The distribution, job-scheduler, ML Commons, then k-NN, or with ``secure`` the security plugin instead.
    """
    last = security_artifact(version) if secure else Artifact("org.opensearch.plugin", "opensearch-knn", f"{version}.0")
    return [
        Artifact("org.opensearch.distribution.integ-test-zip", "opensearch", version),
        Artifact("org.opensearch.plugin", "opensearch-job-scheduler", f"{version}.0"),
        Artifact("org.opensearch.plugin", "opensearch-ml-plugin", f"{version}.0"),
        last,
    ]


def security_artifact(version: str) -> Artifact:
    """The security plugin zip for ``version`` (installed last, after ML Commons)."""
    return Artifact("org.opensearch.plugin", "opensearch-security", f"{version}.0")


def _verify_zip(path: Path) -> None:
    # Maven Central publishes no checksum for some of these zips (job-scheduler), so mvn
    # cannot verify them strictly; a CRC check of every entry catches truncated or corrupt files.
    try:
        with zipfile.ZipFile(path) as zf:
            if not zf.namelist():
                raise DownloadError(f"{path.name} is an empty zip")
            bad = zf.testzip()
            if bad:
                raise DownloadError(f"{path.name} is corrupt (bad CRC in {bad})", hint=f"delete {path} and retry")
    except zipfile.BadZipFile as exc:
        raise DownloadError(f"{path.name} is not a valid zip ({exc})", hint=f"delete {path} and retry") from exc


def _stamp(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _is_verified(path: Path) -> bool:
    stamp = _stamp(path)
    return path.exists() and stamp.exists() and stamp.read_text().strip() == _size_and_mtime(path)


def _size_and_mtime(path: Path) -> str:
    # mvn -C already verified the checksum from Maven Central; the stamp only proves the
    # file is the one we verified, without hashing 400 MB on every warm start
    st = path.stat()
    return f"{st.st_size}:{int(st.st_mtime)}"


def _mvn(env: Mapping[str, str]) -> str:
    mvn = shutil.which("mvn", path=env.get("PATH"))
    if not mvn:
        raise DownloadError(
            "mvn is not installed; it is needed to fetch OpenSearch from Maven Central",
            hint="apt-get install maven, or set OPENSEARCH_HOME to an existing installation",
        )
    return mvn


def fetch(artifact: Artifact, dest: Path, env: Mapping[str, str]) -> Path:
    """Copy ``artifact`` into ``dest`` with ``mvn dependency:copy``, verify it, and reuse a verified copy."""
    target = dest / artifact.filename
    if _is_verified(target):
        return target
    dest.mkdir(parents=True, exist_ok=True)
    # Maven Central has checksums for every jar and pom, not for every zip (see _verify_zip)
    strict = ["--strict-checksums"] if artifact.packaging != "zip" else []
    cmd = [
        _mvn(env), "-B", "-q", *strict, f"{DEPENDENCY_PLUGIN}:copy",
        f"-Dartifact={artifact.coordinates}", f"-DoutputDirectory={dest}",
        "-Dmdep.overWriteReleases=true",
    ]
    log.info("fetching %s with mvn", artifact.coordinates)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=MVN_TIMEOUT, env=dict(env))
    except subprocess.TimeoutExpired as exc:
        raise DownloadError(f"mvn timed out fetching {artifact.coordinates}") from exc
    if proc.returncode != 0 or not target.exists():
        reason = next((ln for ln in proc.stdout.splitlines() if "ERROR" in ln), proc.stderr.strip()[-300:])
        raise DownloadError(
            f"could not download {artifact.coordinates} from Maven Central: {reason.strip()}",
            hint="check network access to Maven Central (mvn), or set OPENSEARCH_HOME",
        )
    if artifact.packaging != "pom":  # a jar is a zip too
        _verify_zip(target)
    _stamp(target).write_text(_size_and_mtime(target))
    return target


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
        home = Path(env["OPENSEARCH_HOME"])
        if secure and not (home / "plugins" / "opensearch-security").is_dir():
            raise LocalNodeError(f"OPENSEARCH_HOME ({home}) has no security plugin, which --secure needs",
                                 hint="unset OPENSEARCH_HOME to use the launcher's own installation")
        return home
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


def _add_painless(tree: Path, version: str, env: Mapping[str, str], progress: Callable[[str], None]) -> None:
    """k-NN extends lang-painless: assemble the module from Maven Central jars when the distribution lacks it (2.x)."""
    from opensearch_llm.local import painless

    if painless.missing(tree):
        progress(f"assembling modules/lang-painless {version} (which k-NN extends) from its Maven Central jars")
        painless.assemble(tree, version, painless.fetch_jars(version, env))

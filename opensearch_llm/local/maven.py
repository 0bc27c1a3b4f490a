"""Maven artifacts of the local distribution, fetched with ``mvn dependency:copy`` and verified."""

from __future__ import annotations

import logging
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from opensearch_llm.errors import DownloadError

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

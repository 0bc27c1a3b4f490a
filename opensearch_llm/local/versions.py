"""OpenSearch lines the local launcher knows, and the Java each needs."""

from __future__ import annotations

from dataclasses import dataclass

from opensearch_llm.errors import LocalNodeError


@dataclass(frozen=True)
class Line:
    """One OpenSearch release line: its newest verified version and Java range."""

    name: str
    version: str
    java_min: int
    java_max: int


# Newest versions whose integ-test zip, job-scheduler zip and ML Commons zip are all on
# Maven Central (checked 2026-11-21: 3.7.0 and 3.8.0 lack the plugin zips there).
LINES = {
    "2.19": Line("2.19", "2.19.6", 11, 21),  # 2.x uses the Security Manager: no JDK 24+
    "3": Line("3", "3.6.0", 21, 25),
}
DEFAULT_LINE = "2.19"
# The one version whose four zips (integ-test, job-scheduler, ML Commons and the security plugin) are
# all on Maven Central here (checked 2026-11-29): no other 2.19.x has them all, and no 3.x has both
# the ML and the security zip. `local start --secure` uses it unless told otherwise.
SECURE_VERSION = "2.19.1"


def resolve(version: str | None) -> tuple[str, Line]:
    """Map ``None``, a line name (``2.19``, ``3``) or an exact ``X.Y.Z`` to (version, line)."""
    if not version:
        line = LINES[DEFAULT_LINE]
        return line.version, line
    if version in LINES:
        return LINES[version].version, LINES[version]
    if version.startswith("3."):
        return version, LINES["3"]
    if version.startswith("2."):
        return version, LINES["2.19"]
    raise LocalNodeError(
        f"unknown OpenSearch version {version!r}",
        hint="use 2.19, 3, or an exact version such as 2.19.6",
    )


def resolve_secure(version: str | None) -> tuple[str, Line]:
    """Like :func:`resolve` for a node with the security plugin: ``None`` and ``2.19`` mean ``SECURE_VERSION``.

    Any other version is tried as given; installing it fails with an error naming ``SECURE_VERSION``
    when its security plugin zip is not on Maven Central.
    """
    if not version or version in (DEFAULT_LINE, SECURE_VERSION):
        return SECURE_VERSION, LINES[DEFAULT_LINE]
    return resolve(version)

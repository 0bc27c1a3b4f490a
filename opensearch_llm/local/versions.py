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

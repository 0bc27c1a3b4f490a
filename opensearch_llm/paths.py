"""Where the toolkit keeps things on disk: downloads, installed trees and instances (the launcher), state and journals."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Optional

RUN_AS_USER = "opensearch-llm"


def is_root() -> bool:
    """True when this process runs as root (OpenSearch then runs as RUN_AS_USER)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def cache_dir(env: Optional[Mapping[str, str]] = None) -> Path:
    """Downloads (the Maven zips): ``$OPENSEARCH_LLM_CACHE_DIR`` or the user's cache dir."""
    env = os.environ if env is None else env
    if env.get("OPENSEARCH_LLM_CACHE_DIR"):
        return Path(env["OPENSEARCH_LLM_CACHE_DIR"])
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "opensearch-llm"


def runtime_dir(env: Optional[Mapping[str, str]] = None) -> Path:
    """Installed trees and instances.

    As root they must be readable by the unprivileged user, and root's home usually is
    not, so they live under /var/tmp unless ``$OPENSEARCH_LLM_RUNTIME_DIR`` says otherwise.
    """
    env = os.environ if env is None else env
    if env.get("OPENSEARCH_LLM_RUNTIME_DIR"):
        return Path(env["OPENSEARCH_LLM_RUNTIME_DIR"])
    if is_root():
        return Path("/var/tmp/opensearch-llm")
    return cache_dir(env)


def instances_dir(env: Optional[Mapping[str, str]] = None) -> Path:
    """Directory holding one sub-directory per local instance."""
    return runtime_dir(env) / "instances"


def state_dir(env: Optional[Mapping[str, str]] = None) -> Path:
    """The toolkit's per-user state directory."""
    env = os.environ if env is None else env
    if env.get("OPENSEARCH_LLM_STATE_DIR"):
        return Path(env["OPENSEARCH_LLM_STATE_DIR"])
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".local" / "state")
    return Path(base) / "opensearch-llm"

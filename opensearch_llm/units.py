"""Small formatting helpers with no heavy imports (used by CLI progress output)."""

from __future__ import annotations


def human_size(num: int) -> str:
    """Bytes as Ollama shows them (decimal units): ``1.3 GB``, ``274 MB``, ``485 B``."""
    value, unit = float(num), "B"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            break
        value /= 1000
    if unit == "B":
        return f"{int(value)} B"
    return f"{value:.0f} {unit}" if value >= 100 else f"{value:.1f} {unit}"

"""``fallback: [other-blueprint, ...]``: the blueprints whose models answer when this one's cannot.

Each entry is a path (relative to the blueprint's own file) or a shipped blueprint name, resolved like a
BLUEPRINT argument. Each fallback is provisioned by its own ``up``; only ``predict``, ``chat``, ``smoke``
and ``doctor`` read the list (:mod:`opensearch_llm.lifecycle.fallback`); :func:`~opensearch_llm.blueprint.loader.load_fallbacks`
loads them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

from opensearch_llm import catalog
from opensearch_llm.errors import Problem
from opensearch_llm.blueprint.source import Locator

MAX_FALLBACKS = 5


def resolve(reference: str, source: str) -> Optional[Path]:
    """The file ``reference`` means next to ``source`` (with or without ``.yaml``), else a shipped blueprint."""
    base = Path(source).parent
    for candidate in (base / reference, base / f"{reference}.yaml"):
        if candidate.is_file():
            return candidate
    return catalog.lookup(reference)


def check_fallbacks(data: Dict[str, Any], loc: Locator) -> List[Problem]:
    """Every fallback names a blueprint file that exists, and none is this blueprint itself."""
    problems: List[Problem] = []
    own = Path(loc.file).resolve() if loc.file else None
    for index, reference in enumerate(data.get("fallback") or []):
        if not isinstance(reference, str):
            continue  # the schema reports it
        found = resolve(reference, loc.file)
        if found is None:
            problems.append(loc.problem(("fallback", index), f"fallback {reference!r} is neither a blueprint file "
                                        f"next to this one nor a shipped blueprint{catalog.not_found_hint(reference)}"))
        elif own is not None and found.resolve() == own:
            problems.append(loc.problem(("fallback", index), "a blueprint cannot be its own fallback"))
    return problems



def with_fallbacks(paths: List[Any]) -> List[Any]:
    """``paths`` (BLUEPRINT arguments) followed by the fallbacks their files name, each once (``doctor`` checks
    them too). Only the files' ``fallback:`` lists are read: a file that does not parse is left to the caller."""
    import yaml

    out = list(paths)
    seen = {str(catalog.resolve(p)) for p in paths}
    for path in paths:
        file = catalog.resolve(path)
        try:
            data = yaml.safe_load(Path(file).read_text(encoding="utf-8"))
        except (OSError, ValueError, yaml.YAMLError):
            continue
        refs = data.get("fallback") if isinstance(data, dict) else None
        for ref in refs if isinstance(refs, list) else []:
            found = resolve(ref, str(file)) if isinstance(ref, str) else None
            if found is not None and str(found) not in seen:
                seen.add(str(found))
                out.append(found)
    return out

"""Where a key is sent must be set where the key is: one source for a credential and its endpoint.

A ``.env`` in a cloned repository is read by default. Were it allowed to set ``DEEPSEEK_BASE_URL`` while the key
comes from the user's environment, the preflight (the first request a command makes) and the connector would send
that key to whatever host the file names. So when the variables that fill the credential and the variables that
decide where requests go (action URLs, the connector parameters those URLs use, the preflight URL) come from
different places, loading fails (exit 2) unless the user says the file is theirs (``--trust-env-file``).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Sequence, Tuple

from opensearch_llm.blueprint.interpolate import CREDENTIAL_PATH, SECRET_NAME, EnvLookup
from opensearch_llm.blueprint.source import KeyPath, Locator
from opensearch_llm.errors import Problem

TRUST_FLAG = "--trust-env-file"
_PARAMETER = re.compile(r"\$\{parameters\.([A-Za-z0-9_.-]+)\}")


def endpoint_paths(data: Dict[str, Any]) -> List[KeyPath]:
    """Key paths whose values decide where requests (and the credential) go."""
    connector = data.get("connector") if isinstance(data.get("connector"), dict) else {}
    actions = connector.get("actions") if isinstance(connector.get("actions"), list) else []
    paths: List[KeyPath] = [("preflight", "url")]
    named = set()
    for i, action in enumerate(actions):
        url = action.get("url") if isinstance(action, dict) else None
        if isinstance(url, str):
            paths.append(("connector", "actions", i, "url"))
            named.update(_PARAMETER.findall(url))
    preflight = data.get("preflight") if isinstance(data.get("preflight"), dict) else {}
    named.update(_PARAMETER.findall(str(preflight.get("url", ""))))
    return paths + [("connector", "parameters", name) for name in sorted(named)]


def _is_credential(path: KeyPath, name: str) -> bool:
    return path[:2] == CREDENTIAL_PATH or bool(SECRET_NAME.search(name))


def mixed_sources(data: Dict[str, Any], used: Sequence[Tuple[KeyPath, str]], lookup: EnvLookup,
                  locator: Locator) -> List[Problem]:
    """One problem per endpoint variable set in another place than the credential it would receive."""
    keys = {name: lookup.source(name) for path, name in used if _is_credential(path, name)}
    if not keys:
        return []
    targets = set(endpoint_paths(data))
    problems, seen = [], set()
    for path, name in used:
        where = lookup.source(name)
        if path not in targets or name in seen or _is_credential(path, name):
            continue
        others = {key: source for key, source in keys.items() if source != where}
        if others:
            seen.add(name)
            problems.append(locator.problem(path, _message(name, where, others)))
    return problems


def _message(name: str, where: str, keys: Dict[str, str]) -> str:
    key_text = ", ".join(f"{key} from {source}" for key, source in sorted(keys.items()))
    return (f"{name} (where the credential is sent) comes from {where}, but {key_text}: a key is sent only to an "
            f"endpoint set in the same place. Set both in one place (the environment or one env file), or pass "
            f"{TRUST_FLAG} if {where} is yours")

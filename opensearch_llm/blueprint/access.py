"""Model access control in blueprints, checked with ML Commons' own rules (``MLModelGroupManager``):

* ``backend_roles`` and ``add_all_backend_roles`` only with ``access_mode: restricted``;
* ``restricted`` needs exactly one of them (not both, not neither);
* without an ``access_mode``, ML Commons would infer one: we ask for it explicitly instead.

Whether the cluster has access control on at all is a cluster fact: ``plan`` checks it.
"""

from __future__ import annotations

from typing import Any, Dict, List

from opensearch_llm.blueprint.source import Locator
from opensearch_llm.errors import Problem


def check_access(data: Dict[str, Any], loc: Locator) -> List[Problem]:
    """Every problem with ``model_group.access_mode``, ``backend_roles`` and ``add_all_backend_roles``."""
    group = data.get("model_group")
    if not isinstance(group, dict):
        return []
    mode = group.get("access_mode")
    roles = bool(group.get("backend_roles"))
    add_all = group.get("add_all_backend_roles") is True
    where = ("model_group",)
    if (roles or "add_all_backend_roles" in group) and mode is None:
        return [loc.problem(where + ("access_mode",), "backend_roles and add_all_backend_roles need "
                                                      "access_mode: restricted")]
    if mode in ("public", "private") and (roles or add_all):
        key = "backend_roles" if roles else "add_all_backend_roles"
        return [loc.problem(where + (key,), f"only a restricted model group takes {key} (access_mode is {mode})")]
    if mode == "restricted" and roles == add_all:
        detail = "both are set" if roles else "neither is set"
        return [loc.problem(where + ("access_mode",), "restricted needs exactly one of backend_roles and "
                                                      f"add_all_backend_roles: true ({detail})")]
    return []

"""Who the caller is on a cluster with the security plugin: ``GET _plugins/_security/authinfo``.

Every authenticated user may read their own authinfo (user name, backend roles, security roles);
on a cluster without the security plugin the endpoint does not exist and :func:`whoami` returns None.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from opensearch_llm.errors import AuthenticationError, ClusterError
from opensearch_llm.resources.common import about

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

AUTHINFO = "/_plugins/_security/authinfo"
KIND = "security"
# built-in roles whose permissions are known without reading role definitions (which needs admin rights)
SETTINGS_ROLES = frozenset({"all_access"})
ML_ROLES = frozenset({"all_access", "ml_full_access"})


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    user: str
    backend_roles: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()

    def may_update_settings(self) -> Optional[bool]:
        """True/False when the built-in roles tell; None when only custom roles could grant it."""
        if SETTINGS_ROLES & set(self.roles):
            return True
        return False if set(self.roles) <= ML_ROLES | {"own_index", "kibana_user", "ml_read_access"} else None

    def to_dict(self) -> dict:
        """JSON-ready view."""
        return {"user": self.user, "backend_roles": list(self.backend_roles), "roles": list(self.roles)}


def whoami(client: "OpenSearch") -> Optional[Principal]:
    """The caller, or None on a cluster without the security plugin."""
    with about(KIND):
        try:
            info = client.transport.perform_request("GET", AUTHINFO)
        except AuthenticationError:
            raise
        except ClusterError as exc:
            if exc.status in (400, 404):  # no such endpoint: no security plugin
                return None
            raise
    if not isinstance(info, dict) or not info.get("user_name"):
        return None
    return Principal(str(info["user_name"]), tuple(info.get("backend_roles") or ()), tuple(info.get("roles") or ()))

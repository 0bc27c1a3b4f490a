"""Agents: ``/_plugins/_ml/agents`` (flow and conversational agents over our models).

Update policy: an agent is immutable here (Update Agent exists only in 3.x), so a changed body means
replace: register a new agent, then delete the old one. The ownership marker lives in its description.
"""

from __future__ import annotations

from typing import Optional, TYPE_CHECKING

from opensearch_llm.errors import ClusterError
from opensearch_llm.resources.common import MARKER_QUERY, about, or_none, search
from opensearch_llm.resources.predict import classify

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

KIND = "agent"


def register(client: "OpenSearch", body: dict) -> str:
    """Register an agent from ``body``; return its id."""
    with about(KIND):
        return client.plugins.ml.register_agents(body=body)["agent_id"]


def get(client: "OpenSearch", agent_id: str) -> Optional[dict]:
    """The agent document, or None."""
    with about(KIND, agent_id):
        return or_none(lambda: client.plugins.ml.get_agent(agent_id=agent_id))


def list_marked(client: "OpenSearch") -> list[dict]:
    """Agents whose description mentions our marker (callers check it exactly); none before the first agent."""
    with about(KIND):
        found = search(client.plugins.ml.search_agents, MARKER_QUERY)
    return [{"id": h["id"], "name": h.get("name"), "description": h.get("description"),
             "doc": {k: v for k, v in h.items() if k != "id"}} for h in found]


def delete(client: "OpenSearch", agent_id: str) -> bool:
    """Delete; True if it existed. 404 counts as done."""
    with about(KIND, agent_id):
        result = or_none(lambda: client.plugins.ml.delete_agent(agent_id=agent_id))
    return bool(result) and result.get("result") == "deleted"


def execute(client: "OpenSearch", agent_id: str, parameters: dict, timeout: float) -> dict:
    """``_execute`` the agent once with ``{"parameters": ...}``; return the raw answer.

    An agent's tools may call a paid model or write to memory, so it is never resent: not by the
    transport (a POST ``_execute`` is not idempotent) and not here, even after a timeout.
    """
    params = {"request_timeout": timeout} if timeout else None
    try:
        with about(KIND, agent_id):
            return client.plugins.ml.execute_agent(agent_id=agent_id, body={"parameters": parameters},
                                                   params=params)
    except ClusterError as exc:
        if exc.timed_out:
            raise ClusterError(f"the agent did not answer within {timeout:g} s; it may still be running",
                               kind=KIND, resource_id=agent_id, method=exc.method, path=exc.path, timed_out=True,
                               hint="raise the timeout; it was not resent, so its tools ran at most once") from None
        raise classify(exc, timeout) from None

"""Remote models: ``/_plugins/_ml/models``.

Update policy: a model follows its connector; when the connector is replaced, or the model
fingerprint differs, the model is replaced. A model of ours that exists but is not DEPLOYED
is deployed again (no-op otherwise).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional, Sequence

from tenacity import (
    RetryError, Retrying, retry_if_exception, retry_if_result, stop_after_attempt, stop_after_delay,
    wait_exponential,
)

from opensearch_llm.errors import ClusterError, DeployError, NotFoundError
from opensearch_llm.resources.common import MARKER_QUERY, about, or_none, search

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

KIND = "model"
READY = ("DEPLOYED",)
FAILED = ("DEPLOY_FAILED",)
NOT_DEPLOYED_TO_DELETE = "Try undeploy model first"


STOP_SERVING = {"is_enabled": False, "deploy_setting": {"is_auto_deploy_enabled": False}}


@dataclass(frozen=True)
class Removal:
    """How long a model delete keeps undeploying and retrying while the model is deployed again."""

    deadline: float = 30.0
    attempts: int = 40
    sleep: Callable[[float], None] = time.sleep
    # a deploy may still be running (a run interrupted while deploying): deleting the model then leaves a node
    # serving it with no document, which no API can undeploy; wait until the model leaves DEPLOYING first
    settle_deploy: bool = False


@dataclass(frozen=True)
class Polling:
    """Adaptive polling: ``settle`` seconds before the first poll, then from ``first`` seconds, growing by
    ``growth``, capped at ``cap``; time is injectable.

    A remote deploy finishes 50-90 ms after ``_register?deploy=true`` answers (measured on 2.19.6 and
    3.6.0), so the first poll waits about that long and one or two polls see it; a slow deploy backs off to
    one poll a second.
    """

    settle: float = 0.06
    first: float = 0.03
    growth: float = 1.5
    cap: float = 1.0
    sleep: Callable[[float], None] = time.sleep


def register(client: OpenSearch, body: dict, deploy: bool = True) -> str:
    """Register a remote model (``?deploy=true`` starts the deploy at once); return its id."""
    with about(KIND):
        params = {"deploy": "true"} if deploy else None
        return client.plugins.ml.register_model(body=body, params=params)["model_id"]


def get(client: OpenSearch, model_id: str) -> Optional[dict]:
    """The model document, or None."""
    with about(KIND, model_id):
        return or_none(lambda: client.plugins.ml.get_model(model_id=model_id))


def list_marked(client: OpenSearch) -> list[dict]:
    """Models whose description mentions our marker (callers check it exactly)."""
    with about(KIND):
        return search(client.plugins.ml.search_models, MARKER_QUERY)


def deploy(client: OpenSearch, model_id: str, node_ids: Sequence[str] = ()) -> None:
    """Ask the cluster to deploy the model (idempotent); ``node_ids`` is a custom deployment plan."""
    with about(KIND, model_id):
        if not node_ids:
            client.plugins.ml.deploy_model(model_id=model_id)
            return
        # opensearch-py's deploy_model takes no body: the same request, with the plan
        client.transport.perform_request("POST", f"/_plugins/_ml/models/{model_id}/_deploy",
                                         body={"node_ids": list(node_ids)})


def undeploy(client: OpenSearch, model_id: str) -> bool:
    """Undeploy; True if the model existed. 404 counts as done."""
    with about(KIND, model_id):
        return or_none(lambda: client.plugins.ml.undeploy_model(model_id=model_id)) is not None


def update(client: OpenSearch, model_id: str, fields: dict) -> None:
    """Update Model (2.12+): change fields of a live model in place; a deployed model is refreshed on its workers."""
    with about(KIND, model_id):
        client.plugins.ml.update_model(model_id=model_id, body=fields)


def until_searchable(client: OpenSearch, model_id: str, fields: dict, sleep: Callable[[float], None],
                     attempts: int = 12) -> None:
    """Wait until a search shows the model with ``fields``: 2.19 makes an Update Model searchable only at the next
    refresh (about 1 s), and a ``plan`` right after would read the old fields from its search (false drift)."""
    for _attempt in range(attempts):
        with about(KIND, model_id):
            found = search(client.plugins.ml.search_models, {"query": {"ids": {"values": [model_id]}}})
        if found and all(_loose(found[0].get(k, True if k == "is_enabled" else None)) == _loose(v)
                         for k, v in fields.items()):
            return
        sleep(0.15)


def _loose(value: object) -> object:
    """Numbers and booleans as the strings ML Commons may return them as."""
    if isinstance(value, dict):
        return {k: _loose(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_loose(v) for v in value]
    return str(value).lower() if isinstance(value, (bool, int, float)) else value


def stop_serving(client: OpenSearch, model_id: str) -> bool:
    """Make the model refuse predicts and never auto-deploy again (Update Model, 2.12+); False when missing.

    On 2.13+ a predict to an undeployed model deploys it again, so an application still calling the
    model could resurrect it between our undeploy and delete. ``deploy_setting.is_auto_deploy_enabled``
    is read from the model index when a predict finds no worker (ML Commons ``MLPredictTaskRunner``);
    ``is_enabled: false`` refuses predicts on the nodes still serving it.
    """
    with about(KIND, model_id):
        try:
            client.plugins.ml.update_model(model_id=model_id, body=STOP_SERVING)
            return True
        except NotFoundError:
            return False
        except ClusterError as exc:
            if exc.status is not None and exc.status < 500:
                return True  # an older cluster without Update Model: undeploy and delete still work
            raise


def delete(client: OpenSearch, model_id: str, removal: Removal = Removal()) -> bool:
    """Stop serving, undeploy and delete; True if it existed. A missing model is done.

    Undeploy doubles as the existence check (404 when missing): on the Maven integ-test
    distribution, DELETE of a missing model fails with 500. DELETE of a deployed model is refused
    ("Try undeploy model first") when a deploy was still finishing or a predict redeployed it:
    undeploy again and retry, re-reading the real state, until ``removal.deadline``.
    """
    if not stop_serving(client, model_id) or not undeploy(client, model_id):
        return False
    if removal.settle_deploy and _wait_while_deploying(client, model_id, removal):
        undeploy(client, model_id)  # the deploy that was running has finished: undeploy what it loaded
    retrying = Retrying(stop=stop_after_delay(removal.deadline) | stop_after_attempt(removal.attempts),
                        sleep=removal.sleep, reraise=True,
                        wait=wait_exponential(multiplier=0.1, max=1.0), retry=retry_if_exception(_still_deployed))
    try:
        retrying(_undeploy_and_delete, client, model_id)
    except NotFoundError:
        return True
    return True


def _wait_while_deploying(client: OpenSearch, model_id: str, removal: Removal) -> bool:
    """Wait (up to ``removal.deadline``) while the model is DEPLOYING; True when it was."""
    waited, pause, deadline = False, 0.1, time.monotonic() + removal.deadline
    while time.monotonic() < deadline:
        doc = get(client, model_id)
        if doc is None or doc.get("model_state") != "DEPLOYING":
            return waited
        waited = True
        removal.sleep(pause)
        pause = min(pause * 1.5, 1.0)
    return waited


def _undeploy_and_delete(client: OpenSearch, model_id: str) -> None:
    with about(KIND, model_id):
        try:
            client.plugins.ml.delete_model(model_id=model_id)
        except ClusterError as exc:
            if _still_deployed(exc):
                undeploy(client, model_id)
            elif get(client, model_id) is None:  # integ-test zip: a missing model answers 500
                return
            raise


def _still_deployed(exc: BaseException) -> bool:
    return isinstance(exc, ClusterError) and exc.status == 400 and NOT_DEPLOYED_TO_DELETE in exc.message


def undeploy_many(client: OpenSearch, model_ids: list[str]) -> None:
    """Undeploy many models in one request (missing ones are ignored by the server)."""
    if model_ids:
        with about(KIND):
            client.plugins.ml.undeploy_model(body={"model_ids": model_ids})


def delete_undeployed(client: OpenSearch, model_id: str, removal: Removal = Removal()) -> bool:
    """Delete a model already undeployed (see :func:`undeploy_many`); True if it existed.

    When it was deployed again meanwhile (a predict under traffic), fall back to :func:`delete`.
    """
    if removal.settle_deploy and _wait_while_deploying(client, model_id, removal):
        undeploy(client, model_id)
    with about(KIND, model_id):
        try:
            client.plugins.ml.delete_model(model_id=model_id)
            return True
        except NotFoundError:
            return False
        except ClusterError as exc:
            if _still_deployed(exc):
                return delete(client, model_id, removal)
            if get(client, model_id) is None:  # integ-test zip: a missing model answers 500
                return False
            raise


def workers(doc: dict) -> tuple[Optional[int], Optional[int]]:
    """(serving, planned) worker node counts of a model document (None where ML Commons did not say)."""
    current, planned = doc.get("current_worker_node_count"), doc.get("planning_worker_node_count")
    return (current if isinstance(current, int) else None, planned if isinstance(planned, int) else None)


def short_of_workers(doc: dict) -> bool:
    """True when fewer nodes serve the model than its plan has."""
    current, planned = workers(doc)
    return current is not None and planned is not None and current < planned


def wait_deployed(client: OpenSearch, model_id: str, timeout: float, polling: Polling = Polling(),
                  node_ids: Sequence[str] = ()) -> dict:
    """Poll until DEPLOYED on every planned node; DEPLOY_FAILED fails at once; on timeout deploy once more
    (to ``node_ids``, a custom plan, if given), then fail.

    Raises :class:`DeployError` carrying the last model document.
    """
    last: dict = {}

    def state() -> str:
        doc = get(client, model_id) or {}
        last.clear()
        last.update(doc)
        current = doc.get("model_state", "MISSING")
        if current in FAILED:
            raise DeployError(f"model {model_id} reached {current}", model_doc=dict(doc))
        if current in READY and short_of_workers(doc):  # DEPLOYED is written before every worker is up
            return "DEPLOYING_WORKERS"
        return current

    polling.sleep(polling.settle)
    for attempt in (1, 2):
        retrying = Retrying(
            stop=stop_after_delay(timeout), sleep=polling.sleep,
            wait=wait_exponential(multiplier=polling.first, exp_base=polling.growth, min=polling.first,
                                  max=polling.cap),
            retry=retry_if_result(lambda s: s not in READY),
        )
        try:
            retrying(state)
            return dict(last)
        except RetryError:
            if attempt == 1:
                deploy(client, model_id, node_ids)
    raise DeployError(
        f"model {model_id} not deployed after {timeout:.0f}s and one re-deploy "
        f"(last state {last.get('model_state', 'unknown')})", model_doc=dict(last))

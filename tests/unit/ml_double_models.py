"""Connector, model, agent and memory routes of :class:`tests.unit.ml_double.MLDouble`.

See :mod:`tests.unit.ml_double_routes` for the core routes and the route helpers.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timezone
from typing import Any, Optional
from urllib.parse import urlsplit

from tests.unit.ml_double_routes import (
    AUTO_DEPLOY, LIVE, ML, PRIVATE_IP, TRUSTED, Refused, check_names, route, search, tokens, written,
)

NODE_STATS = "dblNode0000000000000"
DISABLED = "Model is disabled."
UNDEPLOY_FIRST = "Model cannot be deleted in deploying or deployed state. Try undeploy model first then delete"


# --- connectors --------------------------------------------------------------------------------

def fill(template: str, parameters: dict) -> str:
    return re.sub(r"\$\{parameters\.([\w.-]+)\}", lambda m: str(parameters.get(m[1], m[0])), template or "")


def is_private_host(host: str, extra: Any = ()) -> bool:
    if host in extra or host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_unspecified


def check_private(d: Any, url: str) -> None:
    host = urlsplit(url).hostname or ""
    if is_private_host(host, d.private_hosts) and str(d.effective(PRIVATE_IP)).lower() != "true":
        raise Refused(400, f"Remote inference host name has private ip address: {host}", "illegal_argument_exception")


def check_connector(d: Any, body: dict) -> None:
    params = body.get("parameters") or {}
    for action in body.get("actions") or []:
        url = fill(action.get("url", ""), params)
        if not any(re.fullmatch(rx, url) for rx in d.effective(TRUSTED) or []):
            raise Refused(400, f"Connector URL is not matching the trusted connector endpoint regex, URL is: {url}",
                          "illegal_argument_exception")
        if d.private_ip_check == "create":
            check_private(d, url)


def connector_users(d: Any, cid: str, states: Optional[tuple] = None) -> list:
    """Models "using" ``cid`` as ML Commons finds them: a match query on the text-mapped connector_id."""
    wanted = set(tokens(cid))
    return [mid for mid, m in d.models.items() if set(tokens(m.get("connector_id") or "")) & wanted
            and (states is None or m.get("model_state") in states)]


def public_connector(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "credential"}


@route("POST", f"{ML}/connectors/_create")
def create_connector(d: Any, params: dict, body: dict) -> Any:
    check_names(d, "Model connector", body)
    check_connector(d, body)
    now = d.now()
    return {"connector_id": d.add("connector", {**body, "created_time": now, "last_updated_time": now})}


@route("GET,POST", f"{ML}/connectors/_search")
def search_connectors(d: Any, params: dict, body: dict) -> Any:
    return search(d, "connector", body, public_connector)


@route("GET", f"{ML}/connectors/([^/]+)")
def get_connector(d: Any, params: dict, body: dict, cid: str) -> Any:
    if cid not in d.connectors:
        raise Refused(404, "Failed to find connector")
    return public_connector(d.connectors[cid])


@route("PUT", f"{ML}/connectors/([^/]+)")
def update_connector(d: Any, params: dict, body: dict, cid: str) -> Any:
    if cid not in d.connectors:
        raise Refused(404, "Failed to find connector")
    users = connector_users(d, cid, LIVE)
    if users:
        raise Refused(400, f"{len(users)} models are still using this connector, please undeploy the models first: "
                           f"[{', '.join(users)}]")
    updated = {**d.connectors[cid], **body, "last_updated_time": d.now()}
    check_connector(d, updated)
    d.connectors[cid] = updated
    return written("connector", cid, "updated")


@route("DELETE", f"{ML}/connectors/([^/]+)")
def delete_connector(d: Any, params: dict, body: dict, cid: str) -> Any:
    if cid not in d.connectors:
        return written("connector", cid, "not_found")
    users = connector_users(d, cid)
    if users:
        raise Refused(409, f"{len(users)} models are still using this connector, please delete or update the models "
                           f"first: [{', '.join(users)}]")
    del d.connectors[cid]
    return written("connector", cid, "deleted")



# --- models ------------------------------------------------------------------------------------

def model(d: Any, mid: str) -> dict:
    if mid not in d.models:
        raise Refused(404, "Failed to find model")
    return d.models[mid]


def start_deploy(d: Any, mid: str) -> None:
    """DEPLOYING for the next ``deploy_polls`` GETs of the model, then ``deploy_result``."""
    if d.deploy_polls <= 0:
        d.models[mid]["model_state"] = d.deploy_result
        d.polls_left.pop(mid, None)
    else:
        d.models[mid]["model_state"] = "DEPLOYING"
        d.polls_left[mid] = d.deploy_polls
    d.models[mid]["last_deployed_time"] = d.now()


def undeploy(d: Any, mid: str) -> bool:
    doc = d.models[mid]
    d.polls_left.pop(mid, None)
    if doc.get("model_state") not in LIVE:
        return False
    doc["model_state"] = "UNDEPLOYED"
    doc["last_undeployed_time"] = d.now()
    return True


def stats(undeployed: list) -> dict:
    return {NODE_STATS: {"stats": {mid: "undeployed" for mid in undeployed}}} if undeployed else {}


@route("POST", f"{ML}/models/_register")
def register_model(d: Any, params: dict, body: dict) -> Any:
    check_names(d, "Model", body)
    group = d.model_groups.get(body.get("model_group_id") or "")
    if group is not None:
        group["latest_version"] = group.get("latest_version", 0) + 1
    now = d.now()
    doc = {**{k: v for k, v in body.items() if k != "function_name"},
           "algorithm": str(body.get("function_name", "remote")).upper(),
           "model_version": str(group["latest_version"]) if group else "1", "model_state": "REGISTERED",
           "created_time": now, "last_updated_time": now, "last_registered_time": now}
    mid = d.add("model", doc)
    if str(params.get("deploy")).lower() == "true":
        start_deploy(d, mid)
    return {"task_id": d.new_id("task"), "status": "CREATED", "model_id": mid}


@route("GET,POST", f"{ML}/models/_search")
def search_models(d: Any, params: dict, body: dict) -> Any:
    return search(d, "model", body, dict)  # near-real-time: a search does not advance a deploy


@route("POST", f"{ML}/models/_undeploy")
def undeploy_many(d: Any, params: dict, body: dict) -> Any:
    ids = body.get("model_ids") or list(d.models)
    return stats([mid for mid in ids if mid in d.models and undeploy(d, mid)])


@route("GET", f"{ML}/models/([^/]+)")
def get_model(d: Any, params: dict, body: dict, mid: str) -> Any:
    doc = model(d, mid)
    if mid in d.polls_left:
        if d.polls_left[mid] <= 0:
            del d.polls_left[mid]
            doc["model_state"] = d.deploy_result
        else:
            d.polls_left[mid] -= 1
    return dict(doc)


@route("POST", f"{ML}/models/([^/]+)/_deploy")
def deploy_model(d: Any, params: dict, body: dict, mid: str) -> Any:
    if model(d, mid).get("model_state") != "DEPLOYED":
        start_deploy(d, mid)
    done = d.models[mid]["model_state"] == "DEPLOYED"
    return {"task_id": d.new_id("task"), "task_type": "DEPLOY_MODEL", "status": "COMPLETED" if done else "CREATED"}


@route("POST", f"{ML}/models/([^/]+)/_undeploy")
def undeploy_model(d: Any, params: dict, body: dict, mid: str) -> Any:
    model(d, mid)
    return stats([mid] if undeploy(d, mid) else [])


@route("PUT", f"{ML}/models/([^/]+)")
def update_model(d: Any, params: dict, body: dict, mid: str) -> Any:
    doc = model(d, mid)
    if body.get("connector_id") and body["connector_id"] not in d.connectors:
        raise Refused(404, "Failed to find connector")
    check_names(d, "Model", {**doc, **body})
    doc.update(body, last_updated_time=d.now())
    return written("model", mid, "updated")


@route("DELETE", f"{ML}/models/([^/]+)")
def delete_model(d: Any, params: dict, body: dict, mid: str) -> Any:
    if mid not in d.models:
        if d.integ_zip:  # ML Commons falls back to a delete-by-query the integ-test zip lacks
            raise Refused(500, "failed to find action [org.opensearch.index.reindex.DeleteByQueryAction@6a1f2b] "
                               "to execute", "illegal_state_exception")
        raise Refused(404, "Failed to find model")
    if d.models[mid].get("model_state") in LIVE:
        raise Refused(400, UNDEPLOY_FIRST)
    del d.models[mid]
    d.polls_left.pop(mid, None)
    return written("model", mid, "deleted")


@route("POST", f"{ML}/models/([^/]+)/_predict")
def predict(d: Any, params: dict, body: dict, mid: str) -> Any:
    doc = model(d, mid)
    if doc.get("is_enabled") is False:
        raise Refused(403, DISABLED)
    if doc.get("model_state") != "DEPLOYED":
        per_model = (doc.get("deploy_setting") or {}).get("is_auto_deploy_enabled") is not False
        if str(d.effective(AUTO_DEPLOY)).lower() != "true" or not per_model:
            raise Refused(400, f"Model not ready yet. Please run this first: POST /_plugins/_ml/models/{mid}/_deploy",
                          "illegal_argument_exception")
        d.polls_left.pop(mid, None)  # auto-deploy (2.13+): the predict waits for the deploy
        doc["model_state"] = "DEPLOYED"
    connector = d.connectors.get(doc.get("connector_id") or "")
    if connector is None:
        raise Refused(404, "Failed to find connector")
    parameters = {**(connector.get("parameters") or {}), **(body.get("parameters") or {})}
    for action in connector.get("actions") or []:
        if str(action.get("action_type", "")).lower() == "predict" and d.private_ip_check == "predict":
            check_private(d, fill(action.get("url", ""), parameters))
    answer = d.answer(body.get("parameters") or {}) if callable(d.answer) else str(d.answer)
    data = {"id": f"chatcmpl-{d.new_id('chat')}", "object": "chat.completion", "created": d.now() // 1000,
            "model": parameters.get("model", "double-model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
    return {"inference_results": [{"output": [{"name": "response", "dataAsMap": data}], "status_code": 200}]}


# --- sample bodies for tests -------------------------------------------------------------------

MARKER = "(opensearch-llm run:20240101T000000-abcdef blueprint:sample created:2024-01-01T00:00:00Z)"


def sample_connector(url: str = "https://api.openai.com/v1/chat/completions", *, name: str = "sample connector",
                     credential: Any = "sk-sample-key", description: str = f"sample {MARKER}") -> dict:
    """An OpenAI-style chat connector body; ``url`` may use ``${parameters.endpoint}``."""
    return {"name": name, "description": description, "version": 1, "protocol": "http",
            "parameters": {"endpoint": "api.openai.com", "model": "gpt-4o-mini"},
            "credential": {"openAI_key": credential},
            "actions": [{"action_type": "predict", "method": "POST", "url": url,
                         "headers": {"Authorization": "Bearer ${credential.openAI_key}"},
                         "request_body": '{"model": "${parameters.model}", "messages": ${parameters.messages}}'}]}


def sample_model(connector_id: str, group_id: Optional[str] = None, *, name: str = "sample model",
                 description: str = f"sample {MARKER}") -> dict:
    """A remote model body for ``_register``."""
    body = {"name": name, "function_name": "remote", "connector_id": connector_id, "description": description}
    return {**body, "model_group_id": group_id} if group_id else body


# --- agents and conversation memories ----------------------------------------------------------

def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def agent(d: Any, aid: str) -> dict:
    if aid not in d.agents:
        raise Refused(404, f"Failed to find agent with the provided agent id: {aid}")
    return d.agents[aid]


@route("POST", f"{ML}/agents/_register")
def register_agent(d: Any, params: dict, body: dict) -> Any:
    now = d.now()
    return {"agent_id": d.add("agent", {**body, "created_time": now, "last_updated_time": now, "is_hidden": False})}


@route("GET,POST", f"{ML}/agents/_search")
def search_agents(d: Any, params: dict, body: dict) -> Any:
    return search(d, "agent", body, dict)


@route("GET", f"{ML}/agents/([^/]+)")
def get_agent(d: Any, params: dict, body: dict, aid: str) -> Any:
    return dict(agent(d, aid))


@route("DELETE", f"{ML}/agents/([^/]+)")
def delete_agent(d: Any, params: dict, body: dict, aid: str) -> Any:
    if d.agents.pop(aid, None) is None:
        raise Refused(404, "Fail to find ml agent")
    return written("agent", aid, "deleted")


@route("POST", f"{ML}/agents/([^/]+)/_execute")
def execute_agent(d: Any, params: dict, body: dict, aid: str) -> Any:
    """``response`` is ``answer``; an agent with ``memory`` also answers memory_id and parent_message_id."""
    parameters = body.get("parameters") or {}
    answer = d.answer(parameters) if callable(d.answer) else str(d.answer)
    outputs = [{"name": "response", "result": answer}]
    if agent(d, aid).get("memory"):
        mid = parameters.get("memory_id") or create_memory(d, {}, {"name": parameters.get("question", "")})["memory_id"]
        message = add_message(d, memory(d, mid), str(parameters.get("question", "")), answer)
        outputs = [{"name": "memory_id", "result": mid}, {"name": "parent_message_id", "result": message}] + outputs
    return {"inference_results": [{"output": outputs}]}


def memory(d: Any, mid: str) -> dict:
    if mid not in d.memories:
        raise Refused(404, f"Memory [{mid}] not found", "resource_not_found_exception")
    return d.memories[mid]


def add_message(d: Any, mem: dict, question: str, answer: str) -> str:
    now = iso(d.now())
    message_id = d.new_id("message")
    mem["messages"].append({"memory_id": mem["memory_id"], "message_id": message_id, "create_time": now,
                            "input": question, "prompt_template": "", "response": answer, "origin": "",
                            "additional_info": {}})
    mem["updated_time"] = now
    return message_id


def page(rows: list, key: str, params: dict) -> dict:
    start, size = int(params.get("next_token", 0)), int(params.get("max_results", 10))
    out: dict = {key: rows[start:start + size]}
    return {**out, "next_token": start + size} if len(out[key]) == size else out


@route("POST", f"{ML}/memory")
def create_memory(d: Any, params: dict, body: dict) -> Any:
    now, mid = iso(d.now()), d.new_id("memory")
    d.memories[mid] = {"memory_id": mid, "create_time": now, "updated_time": now, "name": body.get("name", ""),
                       "messages": []}
    d.indices.add("memory")
    return {"memory_id": mid}


@route("GET", f"{ML}/memory")
def list_memories(d: Any, params: dict, body: dict) -> Any:
    rows = sorted(d.memories.values(), key=lambda m: m["updated_time"], reverse=True)
    return page([{k: v for k, v in m.items() if k != "messages"} for m in rows], "memories", params)


@route("GET", f"{ML}/memory/([^/]+)")
def get_memory(d: Any, params: dict, body: dict, mid: str) -> Any:
    return {k: v for k, v in memory(d, mid).items() if k != "messages"}


@route("GET", f"{ML}/memory/([^/]+)/messages")
def list_messages(d: Any, params: dict, body: dict, mid: str) -> Any:
    return page(memory(d, mid)["messages"], "messages", params)


@route("DELETE", f"{ML}/memory/([^/]+)")
def delete_memory(d: Any, params: dict, body: dict, mid: str) -> Any:
    if "memory" in d.indices:  # before the first memory, ML Commons answers success for any id
        memory(d, mid)
        del d.memories[mid]
    return {"success": True}

"""Proof of the whole chain with plain opensearch-py calls, before any engine.

A real node (both lines) creates a connector to an offline fake upstream on loopback,
registers and deploys a remote model, and gets the fake's deterministic answer back.
"""

from __future__ import annotations

import re
import time
import uuid
from contextlib import contextmanager
from typing import Any, Iterator

import pytest

from opensearch_llm.testing.fake_deepseek import fake_reply

TRUSTED = "plugins.ml_commons.trusted_connector_endpoints_regex"
PRIVATE = "plugins.ml_commons.connector.private_ip_enabled"


@contextmanager
def loopback_allowed(client: Any, base_url: str) -> Iterator[None]:
    """Trust exactly ``base_url`` and allow private IPs; restore the previous values after."""
    persistent = client.cluster.get_settings(flat_settings=True)["persistent"]
    effective = client.cluster.get_settings(include_defaults=True, flat_settings=True)
    current = effective["persistent"].get(TRUSTED) or effective["defaults"].get(TRUSTED) or []
    regex = "^" + re.escape(base_url) + "/.*$"
    client.cluster.put_settings(body={"persistent": {TRUSTED: [*current, regex], PRIVATE: True}})
    try:
        yield
    finally:
        client.cluster.put_settings(
            body={"persistent": {TRUSTED: persistent.get(TRUSTED), PRIVATE: persistent.get(PRIVATE)}})


def wait_deployed(ml: Any, model_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        doc = ml.get_model(model_id=model_id)
        if doc["model_state"] == "DEPLOYED":
            return doc
        assert doc["model_state"] != "DEPLOY_FAILED", doc
        assert time.monotonic() < deadline, f"not deployed after {timeout}s: {doc}"
        time.sleep(0.05)


def provision_and_predict(client: Any, connector: dict, parameters: dict) -> dict:
    """Model group → connector → register?deploy=true → DEPLOYED → predict; always cleaned up."""
    ml = client.plugins.ml
    suffix = uuid.uuid4().hex[:8]
    created: dict[str, str] = {}
    try:
        created["group"] = ml.register_model_group(
            body={"name": f"proof-{suffix}", "description": "opensearch-llm proof test"})["model_group_id"]
        created["connector"] = ml.create_connector(body=connector)["connector_id"]
        created["model"] = ml.register_model(
            body={"name": f"proof-{suffix}", "function_name": "remote",
                  "model_group_id": created["group"], "connector_id": created["connector"]},
            params={"deploy": "true"})["model_id"]
        wait_deployed(ml, created["model"])
        return ml.predict_model(model_id=created["model"], body={"parameters": parameters})
    finally:
        if "model" in created:
            ml.undeploy_model(model_id=created["model"])
            ml.delete_model(model_id=created["model"])
        if "connector" in created:
            ml.delete_connector(connector_id=created["connector"])
        if "group" in created:
            ml.delete_model_group(model_group_id=created["group"])
        for kind, rid in created.items():
            getter = {"model": "get_model", "connector": "get_connector", "group": "get_model_group"}[kind]
            arg = {"model": "model_id", "connector": "connector_id", "group": "model_group_id"}[kind]
            with pytest.raises(Exception, match="404|not.found|Failed to find"):
                getattr(ml, getter)(**{arg: rid})


def test_deepseek_chain(opensearch_client: Any, fake_deepseek: Any) -> None:
    messages = [{"role": "user", "content": "Say hello to the proof test"}]
    connector = {
        "name": "proof-deepseek", "version": "1", "protocol": "http",
        "parameters": {"base_url": fake_deepseek.url, "model": "deepseek-flash"},
        "credential": {"api_key": fake_deepseek.api_key},
        "actions": [{
            "action_type": "predict", "method": "POST", "url": "${parameters.base_url}/chat/completions",
            "headers": {"Content-Type": "application/json", "Authorization": "Bearer ${credential.api_key}"},
            "request_body": '{ "model": "${parameters.model}", "messages": ${parameters.messages} }',
        }],
    }
    with loopback_allowed(opensearch_client, fake_deepseek.url):
        answer = provision_and_predict(opensearch_client, connector, {"messages": messages})
    data = answer["inference_results"][0]["output"][0]["dataAsMap"]
    assert data["choices"][0]["message"]["content"] == fake_reply(messages)
    received = fake_deepseek.last_request("/chat/completions")
    assert received.headers["authorization"] == f"Bearer {fake_deepseek.api_key}"
    assert received.json["messages"] == messages


def test_ollama_generate_chain(opensearch_client: Any, fake_ollama: Any) -> None:
    # the connector body of the Ollama seed script (dummy credential, /api/generate, prompt)
    endpoint = fake_ollama.url.removeprefix("http://")
    connector = {
        "name": "proof-ollama", "description": "Connector for Ollama API", "version": 1, "protocol": "http",
        "parameters": {"endpoint": endpoint, "model": "llama3.2:1b"},
        "credential": {"dummy_key": "dummy"},
        "actions": [{
            "action_type": "predict", "method": "POST", "url": "http://${parameters.endpoint}/api/generate",
            "headers": {"Content-Type": "application/json"},
            "request_body": '{ "model": "${parameters.model}", "prompt": "${parameters.prompt}", "stream": false }',
        }],
    }
    prompt = "Reply with the single word pong"
    with loopback_allowed(opensearch_client, fake_ollama.url):
        answer = provision_and_predict(opensearch_client, connector, {"prompt": prompt})
    data = answer["inference_results"][0]["output"][0]["dataAsMap"]
    assert data["response"] == "pong"
    assert data["done"] is True
    received = fake_ollama.last_request("/api/generate")
    assert received.json == {"model": "llama3.2:1b", "prompt": prompt, "stream": False}

"""Preflight through the real CLI, with a request-counting proxy in front of the node.

A refused key or a model the provider does not offer ends `plan`, `up` and `smoke` with exit 2 before the
first cluster request (the proxy sees nothing; `clean_cluster` checks no resource or setting changed); an
unreachable provider is one warning and the run goes on; `--no-preflight` skips the check.
"""

from __future__ import annotations

from typing import Any, Tuple

import pytest

from opensearch_llm.testing import FakeDeepSeek
from tests.helpers import FAKE_KEY as KEY, V4, closed_url
from tests.integration.cli_helpers import CONNECTORS, Cli

DEEPSEEK = str(CONNECTORS / "deepseek-chat.yaml")
OLLAMA = str(CONNECTORS / "ollama-chat.yaml")
WRONG_KEY = "sk-preflight-wrong-000000004321"


@pytest.fixture
def deepseek_models() -> Tuple[str, ...]:
    """``deepseek_api`` serves only the V4 names here."""
    return V4


@pytest.fixture
def pcli(proxied_cli: Cli, deepseek_api: FakeDeepSeek) -> Cli:
    """The CLI through the counting proxy, at a fake DeepSeek serving only the V4 names."""
    proxied_cli.env.update({"DEEPSEEK_BASE_URL": deepseek_api.url, "DEEPSEEK_API_KEY": KEY,
                            "DEEPSEEK_MODEL": "deepseek-v4-flash"})
    proxied_cli.secrets += [KEY, WRONG_KEY]
    return proxied_cli


def test_retired_model_ends_up_with_exit_2_and_no_cluster_request(pcli: Cli, fault_proxy: Any,
                                                                   deepseek_api: FakeDeepSeek,
                                                                   clean_cluster: Any) -> None:
    result = pcli("up", DEEPSEEK, extra_env={"DEEPSEEK_MODEL": "deepseek-chat"})
    assert result.code == 2, result
    assert (f"`deepseek-chat` is not offered by {deepseek_api.url} (retired 2026-07-24); "
            "offered: deepseek-v4-flash, deepseek-v4-pro; nearest match: deepseek-v4-flash") in result.err
    assert "DEEPSEEK_MODEL=deepseek-v4-flash" in result.err
    assert fault_proxy.count() == 0, fault_proxy.requests
    assert deepseek_api.last_request("/chat/completions") is None


@pytest.mark.parametrize("command", ["plan", "smoke"])
def test_unknown_model_names_the_nearest_match_before_the_cluster(pcli: Cli, fault_proxy: Any, command: str,
                                                                  clean_cluster: Any) -> None:
    result = pcli(command, DEEPSEEK, extra_env={"DEEPSEEK_MODEL": "deepseek-v4-flsh"})
    assert result.code == 2, result
    assert "`deepseek-v4-flsh` is not offered by" in result.err and "nearest match: deepseek-v4-flash" in result.err
    assert fault_proxy.count() == 0, fault_proxy.requests


@pytest.mark.parametrize("command", ["plan", "up", "smoke"])
def test_wrong_key_exit_2_with_the_providers_message_and_no_cluster_request(
        pcli: Cli, fault_proxy: Any, deepseek_api: FakeDeepSeek, command: str, clean_cluster: Any) -> None:
    result = pcli(command, DEEPSEEK, extra_env={"DEEPSEEK_API_KEY": WRONG_KEY})  # Cli fails on the key in output
    assert result.code == 2, result
    assert f"{deepseek_api.url} refused the key: GET {deepseek_api.url}/models -> HTTP 401" in result.err
    assert "Authentication Fails, Your api key: ****4321 is invalid" in result.err
    assert "check DEEPSEEK_API_KEY" in result.err
    assert fault_proxy.count() == 0, fault_proxy.requests
    sent = deepseek_api.last_request("/models")
    assert sent is not None and sent.headers["authorization"] == f"Bearer {WRONG_KEY}"


def test_ollama_model_not_on_the_host_is_refused_unless_up_will_pull_it(pcli: Cli, fault_proxy: Any,
                                                                        clean_cluster: Any) -> None:
    missing = {"OLLAMA_CHAT_MODEL": "qwen3:8b"}
    refused = pcli("plan", OLLAMA, extra_env=missing)
    assert refused.code == 2, refused
    assert "`qwen3:8b` is not offered by" in refused.err and "--set ollama.pull=true" in refused.err
    assert fault_proxy.count() == 0
    planned = pcli("plan", OLLAMA, "--set", "ollama.pull=true", extra_env=missing)
    assert planned.code == 0, planned
    assert "warning" not in planned.err and fault_proxy.count() > 0


def test_unreachable_provider_is_one_warning_and_the_run_goes_on(pcli: Cli, fault_proxy: Any,
                                                                 clean_cluster: Any) -> None:
    gone = {"DEEPSEEK_BASE_URL": closed_url()}
    up = pcli("up", DEEPSEEK, "--no-smoke", extra_env=gone)
    try:
        assert up.code == 0, up
        warnings = [line for line in up.err.splitlines() if line.startswith("warning: preflight")]
        assert len(warnings) == 1 and "is not reachable from this machine" in warnings[0], up
        assert "Connection refused" in warnings[0]
        assert fault_proxy.count() > 0
    finally:
        assert pcli("down", DEEPSEEK, extra_env=gone).code == 0


def test_no_preflight_skips_the_check(pcli: Cli, fault_proxy: Any, deepseek_api: FakeDeepSeek,
                                      clean_cluster: Any) -> None:
    retired = {"DEEPSEEK_MODEL": "deepseek-chat"}
    planned = pcli("plan", DEEPSEEK, "--no-preflight", extra_env=retired)
    assert planned.code == 0, planned
    assert fault_proxy.count() > 0 and deepseek_api.last_request("/models") is None
    smoke = pcli("smoke", DEEPSEEK, "--no-preflight", extra_env={"DEEPSEEK_API_KEY": WRONG_KEY})
    assert smoke.code == 1, smoke  # the connector reached the provider and was refused there
    assert "FAIL  deepseek-chat" in smoke.out and "401" in smoke.out + smoke.err
    assert deepseek_api.last_request("/models") is None
    assert deepseek_api.last_request("/chat/completions") is not None


def test_doctor_shows_a_refusal_as_a_failed_row_with_the_fix(pcli: Cli, clean_cluster: Any) -> None:
    result = pcli("doctor", DEEPSEEK, extra_env={"DEEPSEEK_MODEL": "deepseek-reasoner"})
    assert result.code == 1, result
    assert "FAIL  deepseek-chat: preflight" in result.out and "(retired 2026-07-24)" in result.out
    assert "fix: pick an offered model: DEEPSEEK_MODEL=deepseek-v4-flash" in result.out
    skipped = pcli("doctor", DEEPSEEK, "--no-preflight", extra_env={"DEEPSEEK_MODEL": "deepseek-reasoner"})
    assert skipped.code == 0, skipped
    assert "preflight" not in skipped.out


def _env_file_sets_base_url(pcli: Cli, url: str, key: str = "") -> None:
    pcli.env.pop("DEEPSEEK_BASE_URL")
    lines = [f"DEEPSEEK_BASE_URL={url}"] + ([f"DEEPSEEK_API_KEY={key}"] if key else [])
    (pcli.cwd / ".env").write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("command", ["plan", "up", "smoke", "doctor"])
def test_a_dotenv_cannot_send_a_key_from_the_environment_elsewhere(pcli: Cli, fault_proxy: Any, command: str,
                                                                   deepseek_api: FakeDeepSeek,
                                                                   clean_cluster: Any) -> None:
    _env_file_sets_base_url(pcli, deepseek_api.url)
    result = pcli(command, DEEPSEEK)
    assert result.code == 2 if command != "doctor" else result.code == 1, result
    assert ("DEEPSEEK_BASE_URL (where the credential is sent) comes from .env, but DEEPSEEK_API_KEY from the "
            "environment") in result.err + result.out
    assert "--trust-env-file" in result.err + result.out
    assert deepseek_api.requests == [], "the key went to the host the .env named"
    if command != "doctor":
        assert fault_proxy.count() == 0, fault_proxy.requests


def test_a_key_and_its_endpoint_from_one_source_or_trusted_are_planned(pcli: Cli, fault_proxy: Any,
                                                                       deepseek_api: FakeDeepSeek,
                                                                       clean_cluster: Any) -> None:
    _env_file_sets_base_url(pcli, deepseek_api.url)
    trusted = pcli("plan", DEEPSEEK, "--trust-env-file")
    assert trusted.code == 0, trusted
    assert "DEEPSEEK_API_KEY from the environment, DEEPSEEK_BASE_URL from .env" in trusted.out
    pcli.env.pop("DEEPSEEK_API_KEY")
    (pcli.cwd / ".env").write_text(f"DEEPSEEK_BASE_URL={deepseek_api.url}\nDEEPSEEK_API_KEY={KEY}\n")
    planned = pcli("plan", DEEPSEEK, "--json")
    assert planned.code == 0, planned
    assert planned.json()["variables"] == {"DEEPSEEK_API_KEY": ".env", "DEEPSEEK_BASE_URL": ".env",
                                           "DEEPSEEK_MODEL": "the environment"}
    assert deepseek_api.last_request("/models") is not None, "the preflight asked the provider"

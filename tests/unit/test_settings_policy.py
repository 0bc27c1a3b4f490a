"""The settings policy in isolation: which regexes to add, private-IP detection."""

from __future__ import annotations

from opensearch_llm.resources import settings


def facts(trusted=(), private=False) -> settings.SettingsFacts:
    return settings.SettingsFacts(trusted=tuple(trusted), trusted_persistent=None, private_ip=private,
                                  private_ip_persistent=None)


def test_regex_is_exact_for_scheme_host_and_port() -> None:
    regex = settings.endpoint_regex("http://127.0.0.1:11434/api/chat")
    assert regex == r"^http://127\.0\.0\.1:11434/.*$"
    assert settings.is_trusted("http://127.0.0.1:11434/api/generate", [regex])
    assert not settings.is_trusted("http://127.0.0.1:11435/api/generate", [regex])
    assert not settings.is_trusted("http://127.0.0.10:11434/x", [regex])


def test_private_hosts_are_detected() -> None:
    assert settings.is_private("http://127.0.0.1:1/x")
    assert settings.is_private("http://localhost:11434/x")
    assert settings.is_private("http://192.168.0.151:11435/x")
    assert settings.is_private("http://10.1.2.3/x")
    assert not settings.is_private("https://8.8.8.8/x")


def test_plan_change_adds_once_and_keeps_existing() -> None:
    change = settings.plan_change(facts(trusted=["^https://api\\.deepseek\\.com/.*$"]),
                                  ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"])
    assert change.add_regexes == (r"^http://127\.0\.0\.1:9/.*$",)
    assert change.enable_private_ip and change.prior_trusted == ("^https://api\\.deepseek\\.com/.*$",)


def test_private_ip_already_on_is_not_written() -> None:
    change = settings.plan_change(facts(private=True), ["http://127.0.0.1:9/a"])
    assert not change.enable_private_ip


def test_invalid_existing_regex_is_skipped_not_fatal() -> None:
    assert settings.is_trusted("http://x/y", ["(", "^http://x/.*$"])

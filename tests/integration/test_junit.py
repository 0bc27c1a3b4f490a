"""``smoke --junit``: a valid JUnit report, one test case per blueprint, failures with their reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from opensearch_llm.api import SmokeRun
from opensearch_llm.junit import junit_xml, write_junit
from opensearch_llm.lifecycle.smoke import SmokeResult
from opensearch_llm.secrets import register_secret
from tests.integration.cli_helpers import CONNECTORS, Cli

DEEPSEEK = str(CONNECTORS / "deepseek-chat.yaml")


def _suite(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    return suites[0]


def _cases(suite: ET.Element) -> list[ET.Element]:
    cases = suite.findall("testcase")
    for case in cases:
        assert case.get("classname") == "opensearch_llm.smoke" and case.get("name")
        assert float(case.get("time", "x")) >= 0
    return cases


def test_passing_smoke_writes_one_green_testcase(cli: Cli, clean_cluster: Any) -> None:
    result = cli("smoke", DEEPSEEK, "--junit", "out.xml", "--json")
    assert result.code == 0, result
    assert result.json()["ok"] is True
    suite = _suite(cli.cwd / "out.xml")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("1", "0", "0")
    [case] = _cases(suite)
    assert case.get("name") == "deepseek-chat"
    assert float(case.get("time")) > 0
    assert case.find("failure") is None
    assert "pong" in case.findtext("system-out", "")
    assert cli.scan_files(cli.cwd) > 0


def test_failing_expectation_is_one_failure_with_the_reason(cli: Cli, clean_cluster: Any) -> None:
    result = cli("smoke", DEEPSEEK, "--junit", "out.xml", "--json", "--set", "smoke.expect[0].regex=^never$")
    assert result.code == 1, result
    run = result.json()["runs"][0]
    assert run["ok"] is False and "^never$" in run["error"]
    suite = _suite(cli.cwd / "out.xml")
    assert (suite.get("tests"), suite.get("failures")) == ("1", "1")
    [case] = _cases(suite)
    failures = case.findall("failure")
    assert len(failures) == 1
    message = failures[0].get("message", "")
    assert "^never$" in message and "smoke probe of deepseek-chat failed" in (failures[0].text or "")
    assert message == run["error"].splitlines()[0][:300]
    assert cli.scan_files(cli.cwd) > 0


def test_report_masks_secrets_and_drops_characters_xml_cannot_hold(tmp_path: Path) -> None:
    secret = "sk-junit-secret-0123456789"
    register_secret(secret)
    runs = [
        SmokeRun("deepseek-chat", "20260101T000000-aaaaaa", True, 1.25,
                 smoke=SmokeResult(ok=True, seconds=0.2, answer="pong")),
        SmokeRun("ollama-chat", "20260101T000000-bbbbbb", False, 0.5,
                 error=f"upstream said: bad key {secret}\x00\x1b[0m <tag> & more\nsecond line"),
        SmokeRun("ollama-embed", "20260101T000000-cccccc", False, 0.25,
                 teardown={"leftovers": [{"kind": "model", "id": "m1"}]}),
    ]
    path = tmp_path / "report.xml"
    write_junit(str(path), runs)
    text = path.read_text(encoding="utf-8")
    assert secret not in text and text == junit_xml(runs)
    suite = _suite(path)
    assert (suite.get("tests"), suite.get("failures"), suite.get("time")) == ("3", "2", "2.000")
    ok, bad, left = _cases(suite)
    assert ok.find("failure") is None and ok.get("time") == "1.250"
    failure = bad.find("failure")
    assert failure is not None
    assert failure.get("message") == "upstream said: bad key ***[0m <tag> & more"
    assert failure.text is not None and failure.text.endswith("second line")
    assert "teardown left" in left.find("failure").get("message")  # type: ignore[union-attr]

"""JUnit XML for ``smoke --junit``: one test case per blueprint and per consumer check, failures with their reason.

The document is what Jenkins, GitLab and the GitHub test-report actions read::

    <testsuites>
      <testsuite name="opensearch-llm smoke" tests="2" failures="1" errors="0" skipped="0" time="3.140">
        <testcase classname="opensearch_llm.smoke" name="deepseek-chat" time="1.020">
          <system-out>run 20261121T120501-3fa2c1; answer 'pong'</system-out>
        </testcase>
        <testcase classname="opensearch_llm.smoke" name="ollama-chat" time="2.120">
          <failure message="first line of the reason">the whole reason</failure>
          ...

Every text and attribute goes through :func:`~opensearch_llm.secrets.mask_text`, and characters
XML 1.0 cannot carry (control characters an upstream may echo) are dropped.
"""

from __future__ import annotations

import re
from typing import Any, Sequence
from xml.etree import ElementTree as ET

from opensearch_llm.secrets import mask_text

MESSAGE_LIMIT = 300
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    """Masked ``text`` with the characters XML 1.0 forbids removed."""
    return _NOT_XML.sub("", mask_text(text))


def _reason(run: Any) -> str:
    return run.error or f"teardown left {run.teardown.get('leftovers')}"


def _check_case(suite: ET.Element, blueprint: str, check: Any) -> None:
    case = ET.SubElement(suite, "testcase", classname=f"opensearch_llm.smoke.{_clean(blueprint)}",
                         name=_clean(check.name), time=f"{check.seconds:.3f}")
    if not check.ok:
        reason = _clean("; ".join(check.failures) or "failed")
        ET.SubElement(case, "failure", message=reason[:MESSAGE_LIMIT]).text = reason
    ET.SubElement(case, "system-out").text = _clean(f"answer {check.answer!r}")


def junit_xml(runs: Sequence[Any]) -> str:
    """The JUnit XML document for smoke runs (``api.SmokeRun``), secrets masked: a case per blueprint and
    one per consumer check (RAG, agent, ingest)."""
    checks = [(r.blueprint, c) for r in runs for c in getattr(r, "checks", [])]
    failures = sum(not r.ok for r in runs) + sum(not c.ok for _b, c in checks)
    suite = ET.Element("testsuite", name="opensearch-llm smoke", tests=str(len(runs) + len(checks)),
                       failures=str(failures), errors="0", skipped="0", time=f"{sum(r.seconds for r in runs):.3f}")
    for r in runs:
        case = ET.SubElement(suite, "testcase", classname="opensearch_llm.smoke", name=_clean(r.blueprint),
                             time=f"{r.seconds:.3f}")
        if not r.ok:
            reason = _clean(_reason(r))
            first = (reason.strip().splitlines() or ["failed"])[0]
            failure = ET.SubElement(case, "failure", message=first[:MESSAGE_LIMIT])
            failure.text = reason
        out = ET.SubElement(case, "system-out")
        out.text = _clean(f"run {r.run_id}" + (f"; answer {r.smoke.answer!r}" if r.smoke else ""))
        for check in getattr(r, "checks", []):
            _check_case(suite, r.blueprint, check)
    root = ET.Element("testsuites")
    root.append(suite)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def write_junit(path: str, runs: Sequence[Any]) -> None:
    """Write the JUnit report to ``path``."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(junit_xml(runs))

"""JUnit XML for ``smoke --junit``: one test case per blueprint, failures with their reason."""

from __future__ import annotations

from typing import Any, Sequence
from xml.etree import ElementTree as ET

from opensearch_llm.secrets import mask_text


def junit_xml(runs: Sequence[Any]) -> str:
    """The JUnit XML document for smoke runs (secrets masked)."""
    failures = sum(not r.ok for r in runs)
    suite = ET.Element("testsuite", name="opensearch-llm smoke", tests=str(len(runs)), failures=str(failures),
                       errors="0", time=f"{sum(r.seconds for r in runs):.3f}")
    for r in runs:
        case = ET.SubElement(suite, "testcase", classname="opensearch_llm.smoke", name=r.blueprint,
                             time=f"{r.seconds:.3f}")
        if not r.ok:
            reason = r.error or f"teardown left {r.teardown.get('leftovers')}"
            failure = ET.SubElement(case, "failure", message=mask_text(reason.splitlines()[0][:300]))
            failure.text = mask_text(reason)
        out = ET.SubElement(case, "system-out")
        out.text = mask_text(f"run {r.run_id}" + (f"; answer {r.smoke.answer!r}" if r.smoke else ""))
    root = ET.Element("testsuites")
    root.append(suite)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def write_junit(path: str, runs: Sequence[Any]) -> None:
    """Write the JUnit report to ``path``."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(junit_xml(runs))

"""The report as JUnit XML (`retrofit eval --junit FILE`), the format CI tools read: one testsuite,
one testcase per scenario; a case under its pass-rate threshold, or regressed against the
baseline, is a <failure> with its problems. Built with ElementTree, so every text is escaped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from retrofit.evals.gate import EvalReport

# Characters XML 1.0 cannot carry at all (escaping does not help): dropped from any text.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)


def junit_xml(report: EvalReport) -> str:
    failures = sum(1 for c in report.cases if not c.passed or c.regression)
    suite = ET.Element(
        "testsuite",
        name="retrofit eval",
        tests=str(len(report.cases)),
        failures=str(failures),
        errors="0",
        time=f"{sum(s.latency_s for c in report.cases for s in c.scores):.3f}",
        timestamp=report.created_at.isoformat(),
    )
    props = ET.SubElement(suite, "properties")
    for key, value in (
        ("model", report.model),
        ("scripted", str(report.scripted).lower()),
        ("repeat", str(report.repeat)),
        ("pass_rate", f"{report.pass_rate:.3f}"),
    ):
        ET.SubElement(props, "property", name=key, value=_text(value))
    for case in report.cases:
        element = ET.SubElement(
            suite,
            "testcase",
            classname="retrofit.eval",
            name=_text(case.name),
            file=_text(case.source),
            time=f"{sum(s.latency_s for s in case.scores):.3f}",
        )
        if not case.passed or case.regression:
            reason = case.regression or f"pass rate {case.pass_rate:.2f} < {case.min_pass_rate:.2f}"
            failure = ET.SubElement(element, "failure", message=_text(reason), type="EvalFailure")
            failure.text = _text("\n".join(case.problems) or reason)
        out = (
            f"pass rate {case.pass_rate:.2f} ({case.passed_runs}/{case.runs}); tokens {case.tokens_mean:.0f}; "
            f"cost ${case.cost_usd_mean:.4f}; turns {case.turns_mean:.1f}; latency {case.latency_s_mean:.2f}s "
            f"(model {case.model_s_mean:.2f}s, framework {case.framework_s_mean:.2f}s)"
        )
        if case.worse:
            out += "; worse than baseline: " + ", ".join(case.worse)
        ET.SubElement(element, "system-out").text = _text(out)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


def write_junit(report: EvalReport, path: Path) -> None:
    path.write_text(junit_xml(report), encoding="utf-8")

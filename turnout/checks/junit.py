"""A prediction test as JUnit XML, the report format CI systems read (Jenkins, GitLab,
GitHub Actions' test reporters): testsuites / testsuite / testcase, with a `failure` per
threshold missed, the metrics as properties. Pure: returns the document's text.

A test that could not run (CheckAborted) is one testcase with an `error`.
"""

from __future__ import annotations

import datetime
import math
import xml.etree.ElementTree as ET

from turnout.checks import metrics as m
from turnout.checks.report import Report

SUITE = "turnout check"


def report_xml(report: Report, endpoint: str, at: float) -> str:
    """The report as a JUnit document; `at` is when the test started (epoch seconds)."""
    failures = len(report.failures)
    root, suite = _suites(
        endpoint, tests=len(report.verdicts), failures=failures, errors=0,
        seconds=report.seconds, at=at,
    )  # fmt: skip
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("target", report.target),
        ("task", report.task.value),
        ("rows", str(report.rows)),
        ("answered", str(report.answers.count)),
        ("requests", str(report.answers.requests)),
        *((f"metric.{k}", _number(v)) for k, v in report.metrics.items()),
    ):
        ET.SubElement(properties, "property", name=name, value=value)
    for verdict in report.verdicts:
        case = ET.SubElement(
            suite, "testcase", classname=_classname(endpoint), name=str(verdict.threshold),
            time="0",
        )  # fmt: skip
        if not verdict.passed:
            failure = ET.SubElement(
                case, "failure", message=verdict.message, type="ThresholdNotMet"
            )
            detail = [verdict.message]
            if verdict.threshold.metric == m.ERROR_RATE:
                detail += report.answers.errors
            if verdict.threshold.metric == m.AGREEMENT:
                detail += [
                    f"row {d.row + 1}: {d.answer!r} vs {d.reference!r}"
                    for d in report.disagreements
                ]
            failure.text = "\n".join(detail)
    ET.SubElement(suite, "system-out").text = report.summary()
    return _text(root)


def error_xml(message: str, endpoint: str, at: float, seconds: float = 0.0) -> str:
    """A test that could not run, as one errored testcase."""
    root, suite = _suites(endpoint, tests=1, failures=0, errors=1, seconds=seconds, at=at)
    case = ET.SubElement(suite, "testcase", classname=_classname(endpoint), name="run", time="0")
    ET.SubElement(case, "error", message=message, type="CheckAborted").text = message
    return _text(root)


def _suites(
    endpoint: str, *, tests: int, failures: int, errors: int, seconds: float, at: float
) -> tuple[ET.Element, ET.Element]:
    counts = {
        "tests": str(tests), "failures": str(failures), "errors": str(errors),
        "time": f"{seconds:.3f}",
    }  # fmt: skip
    root = ET.Element("testsuites", {"name": SUITE, **counts})
    stamp = datetime.datetime.fromtimestamp(at, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    attributes = {"name": f"{SUITE} {endpoint}", **counts, "skipped": "0", "timestamp": stamp}
    suite = ET.SubElement(root, "testsuite", attributes)
    return root, suite


def _classname(endpoint: str) -> str:
    return f"turnout.check.{endpoint}"


def _number(value: float) -> str:
    return repr(value) if math.isfinite(value) else "nan"


def _text(root: ET.Element) -> str:
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"

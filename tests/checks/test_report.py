"""Assessing answers, the one-line summary, and the JUnit file read as CI systems read it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from turnout.checks.junit import error_xml, report_xml
from turnout.checks.report import Answers, Report, assess
from turnout.checks.runner import predictions_of
from turnout.domain.checks import Bound, Row, Task, Threshold

ROWS = tuple(Row((i,), i % 2) for i in range(10))


def answers(values: list[object | None]) -> Answers:
    return Answers(
        tuple(values), tuple(v is not None for v in values), requests=1,
        errors=("ModelError: boom",) if None in values else (),
        error_count=values.count(None),
    )  # fmt: skip


def report(values: list[object | None], thresholds: list[Threshold], **kw: object) -> Report:
    given = answers(values)
    task, observed, verdicts, disagreements = assess(ROWS, given, thresholds, **kw)  # type: ignore[arg-type]
    return Report("endpoint e", task, len(ROWS), given, observed, verdicts, None, disagreements)


def test_a_good_model_passes_and_says_why() -> None:
    r = report([i % 2 for i in range(10)], [Threshold("accuracy", Bound.MIN, 0.9)])
    assert r.passed and r.task is Task.CLASSIFICATION
    assert r.summary() == "passed on endpoint e, 10 rows: accuracy = 1 (wanted accuracy >= 0.9)"


def test_a_bad_model_fails_with_each_threshold_missed() -> None:
    r = report(
        [0] * 10, [Threshold("accuracy", Bound.MIN, 0.9), Threshold("min_recall", Bound.MIN, 0.5)]
    )
    assert not r.passed
    assert r.summary() == (
        "failed on endpoint e, 10 rows: accuracy = 0.5, wanted accuracy >= 0.9; "
        "min_recall = 0, wanted min_recall >= 0.5"
    )


def test_unanswered_rows_fail_unless_an_error_rate_allows_them() -> None:
    values: list[object | None] = [i % 2 for i in range(9)] + [None]
    r = report(values, [])
    assert not r.passed
    assert r.summary().endswith("1 of 10 rows got no answer (ModelError: boom)")
    assert report(values, [Threshold("error_rate", Bound.MAX, 0.1)]).passed
    assert r.metrics["accuracy"] == 1.0  # over the answered rows


def test_agreement_with_a_reference() -> None:
    given = answers([i % 2 for i in range(10)])
    reference = answers([0] * 10)
    _, observed, _, disagreements = assess(ROWS, given, [], reference=reference)
    assert observed["agreement"] == 0.5
    assert [d.row for d in disagreements] == [1, 3, 5, 7, 9]


def test_predictions_of_an_answer() -> None:
    assert predictions_of([1, 2], 2) == [1, 2]
    assert predictions_of({"predictions": [[0.5], [1]]}, 2) == [[0.5], [1]]
    assert predictions_of(3, 1) == [3]
    with pytest.raises(ValueError, match=r"answered a list of 1 for 2 rows.*--batch 1"):
        predictions_of([1], 2)


def test_junit_as_ci_reads_it() -> None:
    r = report(
        [0] * 10, [Threshold("accuracy", Bound.MIN, 0.9), Threshold("error_rate", Bound.MAX, 0)]
    )
    root = ET.fromstring(report_xml(r, "digits", at=0.0))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "0")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["accuracy >= 0.9", "error_rate <= 0"]
    assert [c.find("failure") is not None for c in cases] == [True, False]
    failure = cases[0].find("failure")
    assert (
        failure is not None and failure.get("message") == "accuracy = 0.5, wanted accuracy >= 0.9"
    )
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["metric.accuracy"] == "0.5" and properties["rows"] == "10"


def test_junit_of_a_test_that_could_not_run() -> None:
    root = ET.fromstring(error_xml("Endpoint x not found.", "x", at=0.0))
    (case,) = root.iter("testcase")
    error = case.find("error")
    assert error is not None and error.get("message") == "Endpoint x not found."
    assert root.get("errors") == "1"

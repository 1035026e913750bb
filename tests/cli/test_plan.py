"""`turnout experiment plan`: computed locally, a table or JSON, one-line errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from turnout.cli.main import app
from turnout.experiments import planning

from .conftest import plain

runner = CliRunner()
WIDE = {"COLUMNS": "250", "TERMINAL_WIDTH": "250"}


def test_plan_prints_users_and_days_for_both_tests() -> None:
    result = runner.invoke(
        app, ["experiment", "plan", "--baseline", "0.10", "--mde", "0.01", "--traffic",
              "1000/day"], env=WIDE,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(plain(result.output).split())
    expected = planning.plan(planning.Question(0.10, 0.01, traffic=1000))
    assert f"fixed_horizon {expected.fixed_users:,}" in text
    assert f"sequential {expected.sequential_users:,}" in text
    assert "29.5" in text  # days: 2 x 14,745 users at 1,000 a day


def test_plan_at_80_columns_keeps_every_figure() -> None:
    args = ["--baseline", "0.001", "--mde", "0.0001", "--traffic", "1000/day", "--variants", "4"]
    result = runner.invoke(
        app, ["experiment", "plan", *args], env={"COLUMNS": "80", "TERMINAL_WIDTH": "80"}
    )
    assert result.exit_code == 0, result.output
    text = plain(result.output)
    assert "…" not in text and max(map(len, text.splitlines())) <= 80, text
    expected = planning.plan(planning.Question(0.001, 0.0001, variants=4, traffic=1000))
    words = text.split()
    for figure in (expected.fixed_users, expected.sequential_users, 4 * expected.sequential_users):
        assert f"{figure:,}" in words, (figure, text)


def test_plan_as_json_for_a_numeric_metric_with_three_variants() -> None:
    result = runner.invoke(
        app, ["experiment", "plan", "--baseline", "50", "--mde", "0.02", "--relative",
              "--numeric", "--sd", "20", "--variants", "3", "--traffic", "50/hour", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["question"]["alpha_per_comparison"] == pytest.approx(0.025)
    assert document["question"]["traffic"] == 1200
    fixed, sequential = document["plans"]
    assert fixed["method"] == "fixed_horizon" and sequential["method"] == "sequential"
    assert fixed["total_users"] == 3 * fixed["users_per_variant"]
    assert fixed["days"] == pytest.approx(fixed["total_users"] / 1200)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--baseline", "0.95", "--mde", "0.1"], "must lie in (0, 1)"),
        (["--baseline", "5", "--mde", "1", "--numeric"], "Give --numeric and --sd together"),
        (["--baseline", "0.1", "--mde", "0.01", "--traffic", "lots"], "is not a number"),
        (["--baseline", "0.1", "--mde", "0.01", "--traffic", "9/week"], "day, hour or minute"),
    ],
)
def test_plan_mistakes_get_one_line(args: list[str], words: str) -> None:
    result = runner.invoke(app, ["experiment", "plan", *args], env=WIDE)
    assert result.exit_code == 1
    lines = [line for line in plain(result.output).splitlines() if line.strip()]
    assert len(lines) == 1 and words in lines[0], result.output

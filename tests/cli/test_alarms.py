"""`turnout alarm ...` and `turnout metrics` against a real `turnout serve`: an alarm
round-trips through create, list, describe and delete (comparisons in short form too), the
metrics table counts the invocations, and mistakes print one `error:` line."""

from __future__ import annotations

import pytest
import typer

from tests.conftest import Artifacts, Deploy
from tests.support.endpoints import VariantOf, poll_until
from tests.support.models import digits_rows
from turnout.cli.alarms import parse_comparison
from turnout.cli.background import BackgroundServer
from turnout.cli.metrics import parse_duration
from turnout.client import Client

from .conftest import one_error_line, plain
from .test_commands import as_json, fails, turnout

ENDPOINT = "cli-watched"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        (">", "GreaterThanThreshold"),
        ("ge", "GreaterThanOrEqualToThreshold"),
        ("<", "LessThanThreshold"),
        ("LessThanOrEqualToThreshold", "LessThanOrEqualToThreshold"),
        (" lessthanthreshold ", "LessThanThreshold"),
    ],
)
def test_comparisons_in_any_form(text: str, name: str) -> None:
    assert parse_comparison(text) == name


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("5m", 300),
                                              ("1.5h", 5400), ("7d", 604800)])  # fmt: skip
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5 minutes", "0s", "8d", "-5m", "=>"])
def test_bad_durations_and_comparisons_are_refused(text: str) -> None:
    with pytest.raises(typer.BadParameter):
        parse_duration(text)
    with pytest.raises(typer.BadParameter):
        parse_comparison(text)


@pytest.fixture(scope="module")
def endpoint(deploy: Deploy, artifacts: Artifacts, client: Client) -> str:
    deploy(ENDPOINT, [VariantOf("A", artifacts.sklearn)])
    for row in digits_rows(5)[0]:
        client.invoke(ENDPOINT, [row])
    return ENDPOINT


@pytest.mark.e2e
def test_an_alarm_round_trips(server: BackgroundServer, endpoint: str) -> None:
    done = turnout(
        server, "alarm", "create", "cli-latency", "--endpoint", endpoint,
        "--metric", "ModelLatency", "--statistic", "p99", "--threshold", "5000000",
        "--comparison", ">=", "--evaluation-periods", "3", "--datapoints-to-alarm", "2",
        "--treat-missing-data", "notBreaching", "--variant", "A",
        "--config", f"{endpoint}-config",
    )  # fmt: skip
    text = plain(done.stdout)
    assert "alarm cli-latency created" in text
    assert f"variant A of {endpoint}-config" in text
    assert "ModelLatency p99 >= 5e+06 in 2 of 3 periods of 10 s" in text
    listed = as_json(server, "alarm", "list", "--endpoint", endpoint)
    assert [a["name"] for a in listed] == ["cli-latency"]
    assert listed[0]["comparison"] == "GreaterThanOrEqualToThreshold"
    assert listed[0]["treat_missing_data"] == "notBreaching"
    assert (listed[0]["variant"], listed[0]["config"]) == ("A", f"{endpoint}-config")
    # five invocations, each far below 5 s: the evaluator turns it OK within a second or two
    described = poll_until(
        lambda: as_json(server, "alarm", "describe", "cli-latency"),
        lambda a: a["state"] == "OK",
        timeout=30,
        what="cli-latency OK",
    )
    assert [c["new_state"] for c in described["history"]] == ["OK"]
    text = plain(turnout(server, "alarm", "describe", "cli-latency").stdout)
    assert "OK" in text and "was not greater than or equal to the threshold" in text
    assert "cli-latency" in plain(turnout(server, "alarm", "list").stdout)
    assert "alarm cli-latency deleted" in plain(
        turnout(server, "alarm", "delete", "cli-latency").stdout
    )
    assert as_json(server, "alarm", "list", "--endpoint", endpoint) == []


@pytest.mark.e2e
def test_alarm_mistakes_print_one_line(server: BackgroundServer, endpoint: str) -> None:
    base = ["alarm", "create", "cli-dup", "--endpoint", endpoint, "--metric",
            "Invocation5XXErrors", "--threshold", "0.1"]  # fmt: skip
    turnout(server, *base, "--comparison", "gt")
    assert 'already existing alarm "cli-dup"' in fails(server, *base, "--comparison", ">")
    assert "Period must be a multiple of 10" in fails(
        server, *base[:2], "cli-other", *base[3:], "--comparison", ">", "--period", "15"
    )
    assert "Invalid endpoint config name 'no such'" in fails(
        server, *base[:2], "cli-other", *base[3:], "--comparison", ">", "--config", "no such"
    )
    done = turnout(server, *base, "--comparison", "=>", ok=False)
    assert done.returncode == 2
    assert "'=>' is not a comparison" in one_error_line(done.stderr)
    assert 'Could not find alarm "nope"' in fails(server, "alarm", "describe", "nope")
    turnout(server, "alarm", "delete", "cli-dup")


@pytest.mark.e2e
def test_the_metrics_table_counts_each_variant(server: BackgroundServer, endpoint: str) -> None:
    summary = as_json(server, "metrics", endpoint, "--since", "1h")
    [variant] = summary["variants"]
    assert variant["variant"] == "A"
    assert variant["metrics"]["Invocations"]["Sum"] == 5
    text = plain(turnout(server, "metrics", endpoint).stdout)
    assert "p99 ms" in text
    row = next(line.split() for line in text.splitlines() if line.strip().startswith("A "))
    assert row[1:5] == ["5", "0", "0", "0"]
    assert 'Could not find endpoint "nope"' in fails(server, "metrics", "nope")
    done = turnout(server, "metrics", endpoint, "--since", "forever", ok=False)
    assert done.returncode == 2
    assert "not a duration" in one_error_line(done.stderr)

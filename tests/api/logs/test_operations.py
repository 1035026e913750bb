"""The Logs operations over log files in a temporary data dir: paging ends and loses
nothing, limits hold, times and patterns filter. (tests/api/logs/test_logs_e2e.py drives
the same through boto3 against `turnout serve`.)"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from turnout.api.logs import events
from turnout.api.logs.groups import LogFiles
from turnout.api.logs.operations import (
    Logs,
    describe_log_groups,
    describe_log_streams,
    filter_log_events,
    get_log_events,
)
from turnout.api.sagemaker.errors import AwsError
from turnout.instances.stamping import stamp

T0 = 1_796_324_450_000
GROUP = "/aws/sagemaker/Endpoints/ep"


def write_stream(root: Path, fleet: str, file: str, lines: list[str], t0: int = T0) -> Path:
    """An instance log of `lines`, one stamped a millisecond after the other."""
    path = root / "ep" / fleet / file
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as f:
        for i, line in enumerate(lines):
            f.write(stamp(t0 + i) + line.encode() + b"\n")
    return path


def logs_of(root: Path) -> Logs:
    return Logs(LogFiles(root), "123456789012", "us-east-1")


def forward_all(logs: Logs, limit: int, **params: Any) -> tuple[list[str], int]:
    """Every message from the head by nextForwardToken, and how many calls it took."""
    request: dict[str, Any] = {"logGroupName": GROUP, "logStreamName": "A/c1-1",
                               "startFromHead": True, "limit": limit, **params}  # fmt: skip
    seen: list[str] = []
    for calls in range(1, 10_000):
        page = get_log_events(logs, request)
        seen += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == request.get("nextToken"):
            return seen, calls
        request["nextToken"] = page["nextForwardToken"]
    raise AssertionError("paging did not end")


def filter_all(logs: Logs, limit: int, **params: Any) -> tuple[list[tuple[str, str]], int]:
    request: dict[str, Any] = {"logGroupName": GROUP, "limit": limit, **params}
    seen: list[tuple[str, str]] = []
    for calls in range(1, 10_000):
        page = filter_log_events(logs, request)
        seen += [(e["logStreamName"], e["message"]) for e in page["events"]]
        if "nextToken" not in page:
            return seen, calls
        request["nextToken"] = page["nextToken"]
    raise AssertionError("paging did not end")


lines_st = st.lists(st.text(st.characters(blacklist_characters="\n\r", codec="utf-8"),
                            max_size=30), max_size=40)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(lines_st, st.integers(1, 7))
def test_paging_forward_returns_every_line_once_and_ends(lines: list[str], limit: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_stream(root, "c1", "A-1.log", lines)
        seen, calls = forward_all(logs_of(root), limit)
        assert seen == lines
        assert calls <= len(lines) // limit + 2


@settings(max_examples=60, deadline=None)
@given(lines_st, lines_st, st.integers(1, 7))
def test_filtering_interleaves_streams_by_time_and_ends(
    a: list[str], b: list[str], limit: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_stream(root, "c1", "A-1.log", a)
        write_stream(root, "c2", "A-1.log", b, t0=T0 + 1)
        seen, calls = filter_all(logs_of(root), limit)
        expected = sorted(
            [(T0 + i, "A/c1-1", m) for i, m in enumerate(a)]
            + [(T0 + 1 + i, "A/c2-1", m) for i, m in enumerate(b)]
        )
        assert seen == [(s, m) for _, s, m in expected]
        assert calls <= (len(a) + len(b)) // limit + 2


def test_paging_backward_from_the_end(tmp_path: Path) -> None:
    lines = [f"line {i}" for i in range(10)]
    write_stream(tmp_path, "c1", "A-1.log", lines)
    logs = logs_of(tmp_path)
    request: dict[str, Any] = {"logGroupName": GROUP, "logStreamName": "A/c1-1", "limit": 3}
    pages = []
    for _ in range(20):
        page = get_log_events(logs, request)
        pages.append([e["message"] for e in page["events"]])
        if page["nextBackwardToken"] == request.get("nextToken"):
            break
        request["nextToken"] = page["nextBackwardToken"]
    assert pages[0] == lines[-3:]
    assert [m for page in reversed(pages) for m in page] == lines


def test_a_line_being_written_waits_for_its_newline(tmp_path: Path) -> None:
    path = write_stream(tmp_path, "c1", "A-1.log", ["done"])
    with path.open("ab") as f:
        f.write(stamp(T0 + 5) + b"half a li")
    assert forward_all(logs_of(tmp_path), 100)[0] == ["done"]
    assert filter_all(logs_of(tmp_path), 100)[0] == [("A/c1-1", "done")]
    with path.open("ab") as f:
        f.write(b"ne\n")
    assert forward_all(logs_of(tmp_path), 100)[0] == ["done", "half a line"]


def test_a_line_longer_than_a_window_is_cut_and_passed(tmp_path: Path) -> None:
    huge = "x" * (events.MAX_BYTES + 10)
    write_stream(tmp_path, "c1", "A-1.log", ["before", huge, "after"])
    seen, _ = forward_all(logs_of(tmp_path), 10_000)
    assert seen[0] == "before" and seen[-1] == "after"
    assert all(len(m.encode()) <= events.MAX_MESSAGE_BYTES for m in seen)
    assert [m for _, m in filter_all(logs_of(tmp_path), 10_000)[0]][-1] == "after"


def test_an_answer_holds_at_most_a_megabyte(tmp_path: Path) -> None:
    line = "y" * 100_000
    write_stream(tmp_path, "c1", "A-1.log", [line] * 25)
    page = filter_log_events(logs_of(tmp_path), {"logGroupName": GROUP})
    size = sum(len(e["message"]) + events.EVENT_OVERHEAD for e in page["events"])
    assert 0 < size <= events.MAX_BYTES
    assert "nextToken" in page


def test_lines_without_stamps_take_the_time_before_them(tmp_path: Path) -> None:
    path = write_stream(tmp_path, "c1", "A-1.log", ["stamped"])
    with path.open("ab") as f:
        f.write(b"a traceback line\n")
    page = filter_log_events(logs_of(tmp_path), {"logGroupName": GROUP})
    assert [e["timestamp"] for e in page["events"]] == [T0, T0]


def test_time_range_and_pattern(tmp_path: Path) -> None:
    write_stream(tmp_path, "c1", "A-1.log", ["ERROR a", "INFO b", "ERROR c", "WARN d"])
    logs = logs_of(tmp_path)

    def messages(**params: Any) -> list[str]:
        return [m for _, m in filter_all(logs, 100, **params)[0]]

    assert messages(startTime=T0 + 1, endTime=T0 + 2) == ["INFO b", "ERROR c"]
    assert messages(filterPattern="ERROR") == ["ERROR a", "ERROR c"]
    assert messages(filterPattern="?ERROR ?WARN") == ["ERROR a", "ERROR c", "WARN d"]
    assert messages(filterPattern="ERROR -c") == ["ERROR a"]
    assert messages(filterPattern='"ERROR c"') == ["ERROR c"]
    assert messages(filterPattern="error") == []  # case-sensitive, as AWS


def test_streams_and_groups_are_described(tmp_path: Path) -> None:
    write_stream(tmp_path, "c1", "A-1.log", ["one", "two"])
    write_stream(tmp_path, "c2", "my-variant-2.log", ["three"], t0=T0 + 10)
    (tmp_path / "ep" / "c1" / "A-1.log.1").write_text("rotated\n")  # not a stream
    logs = logs_of(tmp_path)
    groups = describe_log_groups(logs, {})["logGroups"]
    assert [g["logGroupName"] for g in groups] == [GROUP]
    assert groups[0]["arn"] == f"arn:aws:logs:us-east-1:123456789012:log-group:{GROUP}:*"
    found = describe_log_streams(logs, {"logGroupName": GROUP})["logStreams"]
    spans = [(s["logStreamName"], s["firstEventTimestamp"], s["lastEventTimestamp"]) for s in found]
    assert spans == [("A/c1-1", T0, T0 + 1), ("my-variant/c2-2", T0 + 10, T0 + 10)]
    newest = describe_log_streams(
        logs, {"logGroupName": GROUP, "orderBy": "LastEventTime", "descending": True, "limit": 1}
    )
    assert [s["logStreamName"] for s in newest["logStreams"]] == ["my-variant/c2-2"]
    rest = describe_log_streams(
        logs, {"logGroupName": GROUP, "orderBy": "LastEventTime", "descending": True,
               "limit": 1, "nextToken": newest["nextToken"]},
    )  # fmt: skip
    assert [s["logStreamName"] for s in rest["logStreams"]] == ["A/c1-1"]
    assert "nextToken" not in rest


@pytest.mark.parametrize("token", ["x/1", "f/abc", "f/", "not base64 json", "e30"])
def test_bad_tokens_are_invalid_parameters(tmp_path: Path, token: str) -> None:
    write_stream(tmp_path, "c1", "A-1.log", ["one"])
    logs = logs_of(tmp_path)
    for call, params in (
        (get_log_events, {"logStreamName": "A/c1-1"}),
        (filter_log_events, {}),
    ):
        if call is filter_log_events and token == "e30":  # {}: a valid, empty position
            continue
        with pytest.raises(AwsError) as caught:
            call(logs, {"logGroupName": GROUP, "nextToken": token, **params})
        assert caught.value.code == "InvalidParameterException"


def test_a_group_arn_names_the_group(tmp_path: Path) -> None:
    write_stream(tmp_path, "c1", "A-1.log", ["one"])
    arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{GROUP}:*"
    page = filter_log_events(logs_of(tmp_path), {"logGroupIdentifier": arn})
    assert [e["message"] for e in page["events"]] == ["one"]


def test_a_file_removed_after_listing_reads_as_empty(tmp_path: Path) -> None:
    path = write_stream(tmp_path, "c1", "A-1.log", ["one"])
    path.unlink()
    assert events.read_forward(path, 0).events == []
    assert events.read_backward(path, 1 << 62).events == []
    assert events.first_and_last(path) == (None, None)

"""DescribeLogGroups, DescribeLogStreams, GetLogEvents, FilterLogEvents over the instances'
log files (synchronous: the facade runs them in a worker thread)."""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from turnout.api.logs import events as ev
from turnout.api.logs import tokens
from turnout.api.logs.events import Event, Window
from turnout.api.logs.groups import Group, LogFiles, Stream, group_name, invalid
from turnout.api.logs.patterns import compile_pattern

Params = dict[str, Any]
Answer = dict[str, Any]
DESCRIBE_LIMIT = 50


@dataclass(frozen=True)
class Logs:
    files: LogFiles
    account: str
    region: str

    def arn(self, group: str) -> str:
        return f"arn:aws:logs:{self.region}:{self.account}:log-group:{group}"


def describe_log_groups(logs: Logs, params: Params) -> Answer:
    prefix = params.get("logGroupNamePrefix") or ""
    contains = (params.get("logGroupNamePattern") or "").lower()
    if prefix and contains:
        raise invalid("logGroupNamePrefix and logGroupNamePattern are mutually exclusive.")
    groups = [
        g for g in logs.files.groups() if g.name.startswith(prefix) and contains in g.name.lower()
    ]
    page, token = _page(groups, params)
    return _without_none(
        {"logGroups": [_describe_group(logs, g) for g in page], "nextToken": token}
    )


def describe_log_streams(logs: Logs, params: Params) -> Answer:
    group = logs.files.group(group_name(params))
    prefix = params.get("logStreamNamePrefix") or ""
    order = params.get("orderBy", "LogStreamName")
    if prefix and order == "LastEventTime":
        raise invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
    described = [
        _describe_stream(logs, group, s)
        for s in logs.files.streams(group)
        if s.name.startswith(prefix)
    ]
    if order == "LastEventTime":
        described.sort(key=lambda d: (d.get("lastEventTimestamp", 0), d["logStreamName"]))
    if params.get("descending"):
        described.reverse()
    page, token = _page(described, params)
    return _without_none({"logStreams": page, "nextToken": token})


def get_log_events(logs: Logs, params: Params) -> Answer:
    group = logs.files.group(group_name(params))
    stream = logs.files.stream(group, params["logStreamName"])
    limit = params.get("limit", ev.MAX_EVENTS)
    within = _time_range(params)
    token = params.get("nextToken")
    if token:
        direction, offset = tokens.parse_position(token)
    else:
        direction = tokens.FORWARD if params.get("startFromHead") else tokens.BACKWARD
        offset = 0 if direction == tokens.FORWARD else 1 << 62  # the end, however long
    if direction == tokens.FORWARD:
        window = ev.read_forward(stream.path, offset)
        taken = _take([e for e in window.events if within(e)], limit)
        after = taken[-1].end if len(taken) < _count(window, within) else window.end
        before = taken[0].start if taken else window.start
    else:
        window = ev.read_backward(stream.path, offset)
        taken = _take([e for e in window.events if within(e)], limit, from_end=True)
        before = taken[0].start if len(taken) < _count(window, within) else window.start
        after = taken[-1].end if taken else window.end
    return {
        "events": [
            {"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.timestamp}
            for e in taken
        ],
        "nextForwardToken": tokens.position(tokens.FORWARD, after),
        "nextBackwardToken": tokens.position(tokens.BACKWARD, before),
    }


def filter_log_events(logs: Logs, params: Params) -> Answer:
    group = logs.files.group(group_name(params))
    names, prefix = params.get("logStreamNames"), params.get("logStreamNamePrefix")
    if names and prefix:
        raise invalid("logStreamNames and logStreamNamePrefix are mutually exclusive.")
    streams = [
        s
        for s in logs.files.streams(group)
        if (not names or s.name in names) and s.name.startswith(prefix or "")
    ]
    matches = compile_pattern(params.get("filterPattern") or "")
    within = _time_range(params)
    token = params.get("nextToken")
    start = tokens.parse_offsets(token) if token else {}
    budget = max(ev.MAX_BYTES // max(len(streams), 1), 64 * 1024)
    found: list[tuple[Event, Stream]] = []
    windows = {}
    for stream in streams:
        window = ev.read_forward(stream.path, start.get(stream.name, 0), budget)
        windows[stream.name] = window
        found += [(e, stream) for e in window.events if within(e) and matches(e.message)]
    found.sort(key=lambda pair: (pair[0].timestamp, pair[1].name, pair[0].start))
    taken = _take([e for e, _ in found], params.get("limit", ev.MAX_EVENTS))
    kept = {id(e) for e in taken}
    complete = len(taken) == len(found)
    offsets = {}
    for stream in streams:
        window = windows[stream.name]
        mine = [e for e, s in found if s is stream]
        if all(id(e) in kept for e in mine):
            offsets[stream.name] = window.end
        else:  # resume after the last of its events this page took
            offsets[stream.name] = max([window.start, *(e.end for e in mine if id(e) in kept)])
    more = not complete or not all(windows[s.name].exhausted for s in streams)
    answer: Answer = {
        "events": [
            {
                "logStreamName": s.name,
                "timestamp": e.timestamp,
                "message": e.message,
                "ingestionTime": e.timestamp,
                "eventId": _event_id(s, e),
            }
            for e, s in found
            if id(e) in kept
        ],
        "searchedLogStreams": [
            {"logStreamName": s.name, "searchedCompletely": windows[s.name].exhausted}
            for s in streams
        ],
    }
    if more:
        answer["nextToken"] = tokens.offsets(offsets)
    return answer


# -- helpers ----------------------------------------------------------------------------


def _time_range(params: Params) -> Callable[[Event], bool]:
    low = params.get("startTime")
    high = params.get("endTime")
    if low is not None and high is not None and low > high:
        raise invalid("startTime must be less than or equal to endTime.")
    low = -1 if low is None else low
    high = 1 << 62 if high is None else high
    return lambda e: low <= e.timestamp <= high


def _take(found: list[Event], limit: int, from_end: bool = False) -> list[Event]:
    """The first (or last) events that fit `limit` events and AWS's byte limit."""
    ordered = reversed(found) if from_end else iter(found)
    taken: list[Event] = []
    size = 0
    for e in ordered:
        if len(taken) >= limit or size + e.size > ev.MAX_BYTES:
            break
        taken.append(e)
        size += e.size
    return taken[::-1] if from_end else taken


def _count(window: Window, within: Callable[[Event], bool]) -> int:
    return sum(1 for e in window.events if within(e))


def _page(items: list[Any], params: Params) -> tuple[list[Any], str | None]:
    """One page of a describe listing: `limit` (≤ 50) items from the index in nextToken."""
    token = params.get("nextToken")
    first = 0
    if token:
        direction, first = tokens.parse_position(token)
        if direction != tokens.FORWARD:
            raise invalid("The specified nextToken is invalid.")
    limit = params.get("limit", DESCRIBE_LIMIT)
    page = items[first : first + limit]
    more = first + limit < len(items)
    return page, tokens.position(tokens.FORWARD, first + limit) if more else None


def _describe_group(logs: Logs, group: Group) -> Answer:
    created = _created_ms(group.path)
    return {
        "logGroupName": group.name,
        "creationTime": created,
        "metricFilterCount": 0,
        "arn": logs.arn(group.name) + ":*",
        "logGroupArn": logs.arn(group.name),
        "storedBytes": sum(_size(s.path) for s in logs.files.streams(group)),
        "logGroupClass": "STANDARD",
    }


def _describe_stream(logs: Logs, group: Group, stream: Stream) -> Answer:
    first, last = ev.first_and_last(stream.path)
    return _without_none(
        {
            "logStreamName": stream.name,
            "creationTime": first if first is not None else _created_ms(stream.path),
            "firstEventTimestamp": first,
            "lastEventTimestamp": last,
            "lastIngestionTime": last,
            "arn": f"{logs.arn(group.name)}:log-stream:{stream.name}",
            "storedBytes": _size(stream.path),
        }
    )


def _event_id(stream: Stream, event: Event) -> str:
    return f"{zlib.crc32(stream.name.encode()):010d}{event.start:020d}"


def _created_ms(path: os.PathLike[str]) -> int:
    try:
        return int(os.stat(path).st_ctime * 1000)
    except OSError:
        return 0


def _size(path: os.PathLike[str]) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _without_none(value: Answer) -> Answer:
    return {k: v for k, v in value.items() if v is not None}


HANDLERS: dict[str, Callable[[Logs, Params], Answer]] = {
    "DescribeLogGroups": describe_log_groups,
    "DescribeLogStreams": describe_log_streams,
    "GetLogEvents": get_log_events,
    "FilterLogEvents": filter_log_events,
}

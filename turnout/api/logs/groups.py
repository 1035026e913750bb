"""Which log groups and streams there are: SageMaker's names over the instances' log files.

The log group of endpoint `x` is `/aws/sagemaker/Endpoints/x`; it exists once an instance of
the endpoint has written a log (as on AWS, and it outlives the endpoint). A stream is one
instance's file, `logs/<endpoint>/<fleet>/<variant>-<index>.log` under the data dir, named
`<variant>/<fleet>-<index>` (SageMaker's `<VariantName>/<instance id>`). Listings read
directories: call them off the event loop.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from turnout.api.sagemaker.errors import AwsError

PREFIX = "/aws/sagemaker/Endpoints/"
_ENDPOINT = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")  # SageMaker's EndpointName
_ARN = re.compile(r"arn:aws[a-z-]*:logs:[^:]*:[^:]*:log-group:(?P<name>[^:]+)(:\*)?")


def group_not_found() -> AwsError:
    return AwsError("ResourceNotFoundException", "The specified log group does not exist.")


def stream_not_found() -> AwsError:
    return AwsError("ResourceNotFoundException", "The specified log stream does not exist.")


def invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterException", message)


@dataclass(frozen=True)
class Stream:
    name: str  # <variant>/<fleet>-<index>
    path: Path


@dataclass(frozen=True)
class Group:
    name: str  # /aws/sagemaker/Endpoints/<endpoint>
    path: Path  # the endpoint's directory under logs/


def group_name(params: dict[str, object]) -> str:
    """The group a request names, by logGroupName or logGroupIdentifier (a name or an ARN)."""
    name, identifier = params.get("logGroupName"), params.get("logGroupIdentifier")
    if name is not None and identifier is not None:
        raise invalid("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
    if isinstance(identifier, str):
        arn = _ARN.fullmatch(identifier)
        return arn["name"] if arn else identifier
    if not isinstance(name, str):
        raise invalid("Either logGroupName or logGroupIdentifier must be specified.")
    return name


class LogFiles:
    """The log groups and streams under a data dir's logs/ directory."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def groups(self) -> list[Group]:
        """Every endpoint's group, by name."""
        try:
            entries = list(os.scandir(self._root))
        except (FileNotFoundError, NotADirectoryError):
            return []
        found = [
            Group(PREFIX + e.name, Path(e.path))
            for e in entries
            if e.is_dir() and _ENDPOINT.fullmatch(e.name)
        ]
        return sorted(found, key=lambda g: g.name)

    def group(self, name: str) -> Group:
        """The group called `name`; ResourceNotFoundException for any other name."""
        endpoint = name[len(PREFIX) :] if name.startswith(PREFIX) else ""
        path = self._root / endpoint
        if not _ENDPOINT.fullmatch(endpoint) or not path.is_dir():  # the match keeps to root
            raise group_not_found()
        return Group(name, path)

    def streams(self, group: Group) -> list[Stream]:
        """The group's streams, by name."""
        found = []
        for fleet in _subdirectories(group.path):
            for entry in _files(fleet):
                variant, dash, index = entry.name.removesuffix(".log").rpartition("-")
                if entry.name.endswith(".log") and dash and variant and index.isdigit():
                    found.append(Stream(f"{variant}/{fleet.name}-{index}", entry))
        return sorted(found, key=lambda s: s.name)

    def stream(self, group: Group, name: str) -> Stream:
        for stream in self.streams(group):
            if stream.name == name:
                return stream
        raise stream_not_found()


def _subdirectories(path: Path) -> list[Path]:
    try:
        return [Path(e.path) for e in os.scandir(path) if e.is_dir()]
    except OSError:
        return []


def _files(path: Path) -> list[Path]:
    try:
        return [Path(e.path) for e in os.scandir(path) if e.is_file()]
    except OSError:
        return []

"""Report what code/requirements.txt asks for that turnout's environment lacks.

turnout does not pip-install into its own environment, so an unmet requirement is said out
loud (as a warning at registration and when an instance starts) instead of ignored.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion

from turnout.models.layout import REQUIREMENTS

_COMMENT = re.compile(r"(^|\s)#.*$")
# pip options that only say where to look for packages: nothing to check.
_HARMLESS_OPTIONS = (
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "--trusted-host",
    "--no-index",
    "--pre",
    "--prefer-binary",
    "--only-binary",
    "--no-binary",
)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(line number, text) with comments removed and backslash continuations joined."""
    lines: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        if raw.endswith("\\"):
            pending += raw[:-1]
            continue
        line = _COMMENT.sub("", pending + raw).strip()
        pending = ""
        if line:
            lines.append((start, line))
    if pending.strip():
        lines.append((start, _COMMENT.sub("", pending).strip()))
    return lines


def _check(line: str, number: int) -> str | None:
    where = f"{REQUIREMENTS} line {number}"
    if line.startswith("-"):
        option = re.split(r"[\s=]", line, maxsplit=1)[0]
        if option in _HARMLESS_OPTIONS:
            return None
        return (
            f"{where}: turnout does not follow {line!r}; "
            "install what it names into turnout's environment"
        )
    try:
        requirement = Requirement(line)
    except InvalidRequirement:
        return f"{where}: cannot check {line!r}; make sure it is installed in turnout's environment"
    if requirement.marker is not None and not requirement.marker.evaluate():
        return None  # not meant for this platform / Python
    try:
        installed = importlib.metadata.version(requirement.name)
    except importlib.metadata.PackageNotFoundError:
        return (
            f"{REQUIREMENTS} asks for '{requirement}' which is not installed; "
            "install it into turnout's environment"
        )
    try:
        satisfied = requirement.specifier.contains(installed, prereleases=True)
    except InvalidVersion:
        satisfied = False
    if satisfied:
        return None
    return (
        f"{REQUIREMENTS} asks for '{requirement}' but {requirement.name} {installed} is "
        "installed; install a matching version into turnout's environment"
    )


def requirement_warnings(text: str) -> tuple[str, ...]:
    """One warning per requirement in `text` that the running environment does not satisfy."""
    found = (_check(line, number) for number, line in _logical_lines(text))
    return tuple(warning for warning in found if warning is not None)


def check_requirements(model_dir: Path) -> tuple[str, ...]:
    """Warnings for `model_dir`/code/requirements.txt; none when the file is absent."""
    try:
        text = (model_dir / REQUIREMENTS).read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError):
        return ()
    except OSError as err:
        return (f"cannot read {REQUIREMENTS}: {err.strerror}",)
    return requirement_warnings(text)

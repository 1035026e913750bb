"""A multi-model endpoint's TargetModel: a relative path under the endpoint's model data
prefix (ADR 0037). Checked by the runtime facade and again by the instance."""

from __future__ import annotations

import posixpath

MAX_TARGET_MODEL = 1024  # botocore's TargetModel max length


def check_target_model(name: str) -> str | None:
    """Why `name` cannot be a TargetModel (a relative path under the endpoint's prefix), or
    None when it can: bounded, printable, no absolute path and no `..` step out of it."""
    if not name:
        return "TargetModel must not be empty."
    if len(name) > MAX_TARGET_MODEL:
        return f"TargetModel is longer than {MAX_TARGET_MODEL} characters."
    if not name.isprintable() or name[0].isspace():
        return "TargetModel must be printable characters and not start with a space."
    if name.startswith("/") or "\\" in name:
        return f"TargetModel {name!r} must be a path relative to the model data prefix."
    if any(part in ("..", ".") for part in name.split("/")) or posixpath.normpath(name) != name:
        return f"TargetModel {name!r} must not step out of the model data prefix (no . or ..)."
    return None

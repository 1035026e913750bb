"""SageMaker's rule for resource names (models, endpoint configs, endpoints, variants).

Pure: `check_name` raises InvalidRequest with a message that states the rule.
"""

from __future__ import annotations

import re

from turnout.errors import InvalidRequest

NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
_NAME = re.compile(NAME_PATTERN)
MAX_NAME_LENGTH = 63


def check_name(kind: str, name: str) -> None:
    # fullmatch: with match(), "$" also matches before a trailing newline.
    if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH or not _NAME.fullmatch(name):
        raise InvalidRequest(
            f"Invalid {kind} name {name!r}: use 1 to {MAX_NAME_LENGTH} letters, digits and "
            "hyphens, starting and ending with a letter or digit "
            f"(pattern {NAME_PATTERN})."
        )

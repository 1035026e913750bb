"""FilterLogEvents' filterPattern, the term syntax of CloudWatch Logs. Pure.

Supported: an empty pattern matches every event; `ERROR` matches events containing the
term (case-sensitive, as AWS); `ERROR timeout` needs both; `"exact phrase"` is one term with
its spaces and punctuation; `?ERROR ?WARN` matches events with either (any `?` term, when
there are some); `-debug` excludes events containing it (`ERROR -debug`). Not supported (an
InvalidParameterException says so): JSON patterns `{ $.x = ... }`, space-delimited
patterns `[ip, user, ...]`, and `%regex%`.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass

from turnout.api.logs.groups import invalid

Matcher = Callable[[str], bool]


@dataclass(frozen=True)
class TermPattern:
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()  # ?term: at least one, if there are any
    excluded: tuple[str, ...] = ()

    def __call__(self, message: str) -> bool:
        if not all(term in message for term in self.required):
            return False
        if any(term in message for term in self.excluded):
            return False
        return not self.optional or any(term in message for term in self.optional)


def compile_pattern(text: str) -> Matcher:
    """A matcher for `text`; InvalidParameterException for syntax turnout does not serve."""
    stripped = text.strip()
    if stripped[:1] in ("{", "[") or (stripped.startswith("%") and stripped.endswith("%")):
        raise invalid(
            'turnout matches filter patterns of terms only (ERROR, "a phrase", ?A ?B, '
            "-excluded): JSON, space-delimited and regular-expression patterns are not "
            "supported."
        )
    try:
        words = shlex.split(stripped, posix=True)
    except ValueError:
        raise invalid(f"Invalid filter pattern: {text}: a quote is not closed.") from None
    required, optional, excluded = [], [], []
    for word in words:
        if word.startswith("?") and len(word) > 1:
            optional.append(word[1:])
        elif word.startswith("-") and len(word) > 1:
            excluded.append(word[1:])
        elif word:
            required.append(word)
    return TermPattern(tuple(required), tuple(optional), tuple(excluded))

"""Targeting rules: who gets a variant regardless of the weights.

Rules are evaluated in order before sticky assignment and the first match wins:
- `UserRule`: an explicit list of assignment keys (user ids) → variant;
- `HeaderRule`: a request header equal to one of some values → variant
  (`X-Country in [FR, BE]` → canary). Header names are case-insensitive (HTTP); values are
  compared exactly, after trimming surrounding blanks.

Rules are stored and edited through the API as JSON documents (`to_document` /
`from_document`); every malformed document is refused with a one-line message.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from turnout.errors import InvalidRequest

# Bounds keep a stored document, and the per-request work, small.
MAX_RULES = 100
MAX_USERS = 10_000
MAX_VALUES = 100
MAX_TEXT = 256
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")  # an RFC 9110 token

Operator = Literal["equals", "in"]


@dataclass(frozen=True)
class UserRule:
    """Route these assignment keys to `variant`."""

    users: frozenset[str]
    variant: str

    def matches(self, user: str | None, headers: Mapping[str, str]) -> bool:
        return user is not None and user in self.users

    def to_document(self) -> dict[str, Any]:
        return {"type": "users", "users": sorted(self.users), "variant": self.variant}


@dataclass(frozen=True)
class HeaderRule:
    """Route requests whose header `header` is one of `values` to `variant`.

    `equals` is `in` with a single value; both are kept so documents read as written.
    """

    header: str
    operator: Operator
    values: frozenset[str]
    variant: str

    def matches(self, user: str | None, headers: Mapping[str, str]) -> bool:
        value = headers.get(self.header)
        return value is not None and value.strip() in self.values

    def to_document(self) -> dict[str, Any]:
        values: str | list[str] = (
            next(iter(self.values)) if self.operator == "equals" else sorted(self.values)
        )
        return {
            "type": "header",
            "header": self.header,
            "operator": self.operator,
            "value" if self.operator == "equals" else "values": values,
            "variant": self.variant,
        }


Rule = UserRule | HeaderRule


@dataclass(frozen=True)
class Targeting:
    """An ordered list of rules; `variant_for` gives the first match's variant or None."""

    rules: tuple[Rule, ...] = ()

    def variant_for(self, user: str | None, headers: Mapping[str, str]) -> str | None:
        """The targeted variant, or None to fall through to the weights.

        `headers` maps lower-case header names to values, as the router decodes them.
        """
        for rule in self.rules:
            if rule.matches(user, headers):
                return rule.variant
        return None

    def check_variants(self, variants: Collection[str]) -> None:
        """Refuse rules that name a variant the endpoint does not have."""
        for i, rule in enumerate(self.rules, start=1):
            if rule.variant not in variants:
                known = ", ".join(sorted(variants)) or "none"
                raise InvalidRequest(
                    f'Targeting rule {i} routes to unknown variant "{rule.variant}";'
                    f" the endpoint's variants are: {known}."
                )

    def to_document(self) -> list[dict[str, Any]]:
        return [rule.to_document() for rule in self.rules]

    @classmethod
    def from_document(cls, document: Any, variants: Collection[str] | None = None) -> Targeting:
        """Parse and validate a JSON document (a list of rule objects).

        With `variants`, also refuse rules that name a variant not among them.
        """
        if not isinstance(document, list):
            raise InvalidRequest("Targeting rules must be a JSON list of rule objects.")
        if len(document) > MAX_RULES:
            raise InvalidRequest(f"At most {MAX_RULES} targeting rules are allowed.")
        targeting = cls(tuple(_parse_rule(i, item) for i, item in enumerate(document, start=1)))
        if variants is not None:
            targeting.check_variants(variants)
        return targeting


def _parse_rule(i: int, item: Any) -> Rule:
    if not isinstance(item, dict):
        raise InvalidRequest(f"Targeting rule {i} must be a JSON object.")
    kind = item.get("type")
    if kind == "users":
        _only_keys(i, item, {"type", "users", "variant"})
        users = _texts(i, item.get("users"), "users", MAX_USERS)
        return UserRule(users=frozenset(users), variant=_text(i, item.get("variant"), "variant"))
    if kind == "header":
        operator = item.get("operator")
        if operator == "equals":
            _only_keys(i, item, {"type", "header", "operator", "value", "variant"})
            values: Sequence[str] = [_text(i, item.get("value"), "value")]
        elif operator == "in":
            _only_keys(i, item, {"type", "header", "operator", "values", "variant"})
            values = _texts(i, item.get("values"), "values", MAX_VALUES)
        else:
            raise InvalidRequest(f'Targeting rule {i}: "operator" must be "equals" or "in".')
        header = item.get("header")
        if not isinstance(header, str) or not _HEADER_NAME.match(header):
            raise InvalidRequest(f'Targeting rule {i}: "header" must be a valid HTTP header name.')
        return HeaderRule(
            header=header.lower(),
            operator=operator,
            values=frozenset(v.strip() for v in values),
            variant=_text(i, item.get("variant"), "variant"),
        )
    raise InvalidRequest(f'Targeting rule {i}: "type" must be "users" or "header".')


def _only_keys(i: int, item: Mapping[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(item) - allowed)
    if extra:
        raise InvalidRequest(f'Targeting rule {i}: unknown field "{extra[0]}".')


def _text(i: int, value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise InvalidRequest(
            f'Targeting rule {i}: "{field}" must be a non-empty string of at most'
            f" {MAX_TEXT} characters."
        )
    return value


def _texts(i: int, value: Any, field: str, limit: int) -> Sequence[str]:
    if not isinstance(value, list) or not value or len(value) > limit:
        raise InvalidRequest(
            f'Targeting rule {i}: "{field}" must be a list of 1 to {limit} strings.'
        )
    return [_text(i, v, field) for v in value]

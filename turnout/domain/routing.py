"""An endpoint's routing settings: where the assignment key comes from, its salt, its rules.

The assignment key (the user's identity) is read, in this order, from a request header
(default `X-Turnout-User`), a field of SageMaker's CustomAttributes (`user=...`, off by
default) and a cookie (default `turnout_user`, which the router sets for browsers that have
none). Each source can be switched off. The salt makes one endpoint's assignment independent
of another's; it is random and persisted, so every router process, before and after a
restart, assigns a user the same variant. Targeting rules come first (ADR 0013).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from turnout.domain.targeting import Targeting
from turnout.errors import InvalidRequest

DEFAULT_HEADER = "X-Turnout-User"
DEFAULT_COOKIE = "turnout_user"
MAX_KEY_LENGTH = 256  # bytes of an assignment key; a longer one is refused
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")  # RFC 9110 token / cookie name
_FIELD = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def new_salt() -> str:
    return secrets.token_hex(16)


@dataclass(frozen=True)
class RoutingSettings:
    salt: str
    header: str | None = DEFAULT_HEADER
    cookie: str | None = DEFAULT_COOKIE
    custom_attribute: str | None = None
    targeting: Targeting = field(default_factory=Targeting)

    @property
    def sticky(self) -> bool:
        """Whether any source of assignment keys is on."""
        return bool(self.header or self.cookie or self.custom_attribute)

    def document(self) -> dict[str, Any]:
        """The editable part, as the API shows and takes it (the salt is not editable)."""
        return {
            "assignment_key": {
                "header": self.header,
                "cookie": self.cookie,
                "custom_attribute": self.custom_attribute,
            },
            "rules": self.targeting.to_document(),
        }

    def with_document(self, document: Any) -> RoutingSettings:
        """These settings changed by a (partial) document; InvalidRequest names a problem.

        Keys absent from the document keep their value; `null` switches a source off.
        """
        if not isinstance(document, dict):
            raise InvalidRequest("Routing settings must be a JSON object.")
        extra = sorted(set(document) - {"assignment_key", "rules"})
        if extra:
            raise InvalidRequest(f'Unknown routing setting "{extra[0]}".')
        key = document.get("assignment_key", {})
        if not isinstance(key, dict):
            raise InvalidRequest('"assignment_key" must be a JSON object.')
        extra = sorted(set(key) - {"header", "cookie", "custom_attribute"})
        if extra:
            raise InvalidRequest(f'Unknown assignment key source "{extra[0]}".')
        header = _source(key, "header", self.header, _TOKEN, "an HTTP header name")
        cookie = _source(key, "cookie", self.cookie, _TOKEN, "a cookie name")
        custom = _source(
            key, "custom_attribute", self.custom_attribute, _FIELD,
            "1-64 letters, digits, '_', '.' or '-'",
        )  # fmt: skip
        targeting = (
            Targeting.from_document(document["rules"]) if "rules" in document else self.targeting
        )
        return RoutingSettings(self.salt, header, cookie, custom, targeting)


def _source(
    key: dict[str, Any], name: str, current: str | None, pattern: re.Pattern[str], what: str
) -> str | None:
    if name not in key:
        return current
    value = key[name]
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not pattern.match(value):
        raise InvalidRequest(f"assignment_key.{name} must be {what} or null, not {value!r}.")
    return value

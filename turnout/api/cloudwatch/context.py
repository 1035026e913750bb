"""What every CloudWatch operation handler gets: the service layer, account and region."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from turnout.api.cloudwatch.errors import invalid_next_token
from turnout.monitoring import Monitoring

if TYPE_CHECKING:
    from turnout.api.cloudwatch.backlog import BacklogSource
    from turnout.store.scaling import ScalingStore

Params = Mapping[str, Any]
Answer = dict[str, Any]
T = TypeVar("T")


@dataclass(frozen=True)
class Context:
    monitoring: Monitoring
    account: str
    region: str
    backlog: BacklogSource | None = None  # the asynchronous inference queue (ADR 0031)
    actions: ScalingStore | None = None  # alarms' AlarmActions: step scaling (ADR 0036)

    def alarm_arn(self, name: str) -> str:
        return f"arn:aws:cloudwatch:{self.region}:{self.account}:alarm:{name}"


def page(items: Sequence[T], token: str | None, size: int) -> tuple[Sequence[T], str | None]:
    """One page of `items` from a NextToken (an offset, opaque to callers) and the next one."""
    start = 0
    if token:
        if not token.isdigit() or int(token) > len(items):
            raise invalid_next_token()
        start = int(token)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)

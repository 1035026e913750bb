"""A deployment's prediction test, run by the controller on the green fleet alone.

The rows go to this node's own router over loopback, with TargetVariant and
X-Turnout-Endpoint-Config naming each variant of the green config, so they reach green while
its share of user traffic is still 0, and user requests never do. The test runs in a worker
thread (blocking HTTP), never on the event loop, and its wait is bounded by the test's
timeout; the outcome is one line, the rollback reason when it fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from turnout.checks.runner import CheckAborted, Target, run_check
from turnout.client import Client, Credentials
from turnout.deploy.rollout import Validation
from turnout.domain.deployments import Deployment

_GRACE_S = 5.0  # beyond the test's own deadline: a request in flight may still finish


class GreenFleetTests:
    """What the controller calls to validate a green fleet (turnout.deploy.controller)."""

    def __init__(self, url: str, credentials: Mapping[str, str] | None = None) -> None:
        self._url = url
        pair = next(iter((credentials or {}).items()), None)  # signed, if the server wants it
        self._credentials = Credentials(*pair, source="turnout serve's") if pair else None

    async def run(self, d: Deployment, variants: Sequence[str]) -> Validation:
        test = d.prediction_test
        assert test is not None
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(self._run, d, variants), test.timeout_s + _GRACE_S
            )
        except TimeoutError:
            return Validation(
                False, f"did not finish within {test.timeout_s:g} s on {d.green_config}"
            )

    def _run(self, d: Deployment, variants: Sequence[str]) -> Validation:
        """Each green variant in turn (blocking); the first failure ends the test."""
        test = d.prediction_test
        assert test is not None
        passed = []
        with Client(
            self._url, timeout=min(75.0, test.timeout_s), credentials=self._credentials
        ) as client:
            for variant in variants:
                target = Target(d.endpoint, variant, d.green_config)
                try:
                    report = run_check(
                        client, test.rows, test.thresholds, target, task=test.task,
                        batch_size=test.batch_size, timeout=test.timeout_s,
                    )  # fmt: skip
                except CheckAborted as exc:
                    return Validation(False, f"could not run on {target.describe()}: {exc}")
                if not report.passed:
                    return Validation(False, report.summary())
                passed.append(report.summary())
        return Validation(True, "; ".join(passed))


def loopback(host: str, port: int) -> str:
    """The URL this node's own router answers on from the same machine."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

"""A deployment in progress as the pages and `turnout top` show it: target, step i of n,
green's share, phase and the seconds left of the bake (pure: a deployment and a clock in,
JSON out). All three read these same figures, so they agree.
"""

from __future__ import annotations

from typing import Any

from turnout.deploy.rollout import due_at, green_share
from turnout.domain.deployments import Deployment


def progress(d: Deployment, now: float, routed: float | None = None) -> dict[str, Any]:
    """`step` counts from 1; `green_share` is what the routers route by (`routed`, from the
    plan) if known, else the recorded state's; `bake_left_s` is None unless a bake (or the
    termination wait) is counting down."""
    due = due_at(d)
    return {
        "target": d.green_config,
        "from": d.blue_config,
        "phase": d.phase.value,
        "paused": d.paused,
        "step": d.step + 1,
        "steps": len(d.steps),
        "green_share": green_share(d, green_ready=True) if routed is None else routed,
        "step_share": d.current.green_share,
        "bake_left_s": None if due is None else max(0.0, round(due - now, 1)),
    }

"""`turnout deploy watch`: the bar and the headline number steps alike ("step 2/2" in both,
the bar at 1.4 of 2 steps), in every phase, readable at 80 columns."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from turnout.cli.deploy import _view, headline, progress_of
from turnout.client import DeploymentInfo

NOW = 1000.0


def deployment(phase: str, step: int = 0, baked_s: float | None = 4.0) -> DeploymentInfo:
    info: dict[str, Any] = {
        "id": 1, "endpoint": "digits", "blue_config": "digits-v1", "green_config": "digits-v2",
        "deployment_config": {"BlueGreenUpdatePolicy": {"TerminationWaitInSeconds": 20}},
        "steps": [{"green_share": 0.1, "bake_s": 10}, {"green_share": 1.0, "bake_s": 10}],
        "phase": phase, "step": step,
        "step_started_at": None if baked_s is None else NOW - baked_s,
        "green_share": [0.1, 1.0][step], "started_at": NOW - 60, "paused": False,
        "requested": None, "failure_reason": None, "finished_at": None,
        "alarms": {"digits-5xx": "OK"}, "prediction_test": None,
        "events": [{"at": NOW - 60, "kind": "started", "message": "started", "step": None,
                    "green_share": None}],
    }  # fmt: skip
    return info  # type: ignore[return-value]


def render(d: DeploymentInfo) -> str:
    bar = Progress(BarColumn(), TextColumn("{task.description}"))
    completed, label = progress_of(d, NOW)
    bar.add_task(label, total=len(d["steps"]), completed=completed)
    console = Console(width=80, record=True, color_system=None)
    console.print(_view(d, bar))
    return console.export_text()


@pytest.mark.parametrize(
    ("phase", "step", "baked_s", "position", "label"),
    [
        ("Provisioning", 0, None, 0, "0/2 steps done (Provisioning)"),
        ("Validating", 0, None, 0, "0/2 steps done (Validating)"),
        ("Baking", 0, 4.0, 0.4, "step 1/2: 40% baked"),
        ("Baking", 1, 4.0, 1.4, "step 2/2: 40% baked"),
        ("Baking", 1, 30.0, 2, "step 2/2: 100% baked"),
        ("TerminationWait", 1, 5.0, 2, "2/2 steps done; blue kept 15 s more"),
        ("Succeeded", 1, 5.0, 2, "2/2 steps done"),
        ("RollingBack", 1, None, 1, "1/2 steps done (RollingBack)"),
    ],
)
def test_the_bar_counts_steps_as_the_headline_does(
    phase: str, step: int, baked_s: float | None, position: float, label: str
) -> None:
    d = deployment(phase, step, baked_s)
    assert progress_of(d, NOW) == (pytest.approx(position), label)
    text = render(d)
    assert label in text, text
    assert "…" not in text and "/3" not in text, text
    if phase == "Baking":
        assert f"step {step + 1}/2" in headline(d)

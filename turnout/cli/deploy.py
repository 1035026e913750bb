"""`turnout deploy ...`: watch and steer a guarded blue/green deployment; and the policy
options of `turnout endpoint update` (turned into SageMaker's DeploymentConfig here)."""

from __future__ import annotations

import contextlib
import time
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.live import Live
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from turnout.cli.common import (
    DEFAULT_URL,
    CredentialsFile,
    Json,
    Url,
    connect,
    console,
    fail,
    print_json,
)
from turnout.cli.models import format_time
from turnout.client import Client, DeploymentInfo, DeploymentsInfo

app = typer.Typer(
    help="Guarded blue/green deployments: watch, pause, resume, promote, roll back.",
    no_args_is_help=True,
)
Endpoint = Annotated[str, typer.Argument(help="Endpoint name.")]
_FINISHED = ("Succeeded", "RolledBack", "RollbackFailed")
_COLOUR = {"Succeeded": "green", "RolledBack": "red", "RollbackFailed": "red", "RollingBack": "red"}


# -- the policy options of `turnout endpoint update` ------------------------------------


def capacity(text: str, option: str) -> dict[str, Any]:
    """`10%` → 10 CAPACITY_PERCENT; `2` → 2 INSTANCE_COUNT."""
    percent = text.strip().endswith("%")
    number = text.strip().rstrip("%").strip()
    if not number.isdigit() or int(number) < 1:
        raise typer.BadParameter(
            f"{text!r} is not a size: use a percentage like 10% or an instance count like 2",
            param_hint=option,
        )
    return {"Type": "CAPACITY_PERCENT" if percent else "INSTANCE_COUNT", "Value": int(number)}


def deployment_config(
    *,
    canary: str | None,
    linear: str | None,
    bake: int | None,
    termination_wait: int | None,
    max_time: int | None,
    alarms: list[str],
    pause_on_insufficient_data: bool,
) -> dict[str, Any] | None:
    """SageMaker's DeploymentConfig from the options; None when none asks for a guarded one
    (then the update is all at once, unwatched)."""
    if canary and linear:
        raise typer.BadParameter("give --canary or --linear, not both", param_hint="--linear")
    guarded = (canary, linear, bake, termination_wait, max_time)
    if all(v is None for v in guarded) and not alarms and not pause_on_insufficient_data:
        return None
    routing: dict[str, Any] = {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": bake or 0}
    if canary:
        routing.update(Type="CANARY", CanarySize=capacity(canary, "--canary"))
    elif linear:
        routing.update(Type="LINEAR", LinearStepSize=capacity(linear, "--linear"))
    blue_green: dict[str, Any] = {
        "TrafficRoutingConfiguration": routing,
        "TerminationWaitInSeconds": termination_wait or 0,
    }
    if max_time is not None:
        blue_green["MaximumExecutionTimeoutInSeconds"] = max_time
    config: dict[str, Any] = {"BlueGreenUpdatePolicy": blue_green}
    if alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": a} for a in alarms]}
    if pause_on_insufficient_data:
        config["PauseOnInsufficientData"] = True
    return config


# -- watching ---------------------------------------------------------------------------


def progress_of(d: DeploymentInfo, now: float) -> tuple[float, str]:
    """The bar's position in steps (0 … len(steps): whole steps baked, plus the baking one's
    fraction) and its label, numbered as the headline numbers steps ("step 2/2")."""
    steps = len(d["steps"])
    phase = d["phase"]
    if phase == "Succeeded":
        return steps, f"{steps}/{steps} steps done"
    started = d["step_started_at"]
    if phase == "TerminationWait":
        wait = d["deployment_config"]["BlueGreenUpdatePolicy"].get("TerminationWaitInSeconds", 0)
        left = max(0.0, wait - (now - started)) if started is not None else wait
        return steps, f"{steps}/{steps} steps done; blue kept {left:.0f} s more"
    if phase != "Baking" or started is None:
        return d["step"], f"{d['step']}/{steps} steps done ({phase})"
    bake = d["steps"][d["step"]]["bake_s"]
    baked = min(1.0, (now - started) / bake) if bake else 1.0
    return d["step"] + baked, f"step {d['step'] + 1}/{steps}: {baked:.0%} baked"


def headline(d: DeploymentInfo) -> str:
    phase = d["phase"]
    colour = _COLOUR.get(phase, "yellow")
    text = (
        f"[bold]{d['endpoint']}[/] {d['blue_config']} → {d['green_config']}: [{colour}]{phase}[/]"
    )
    if phase == "Baking":
        text += f" step {d['step'] + 1}/{len(d['steps'])}"
    elif phase == "Validating":
        text += " (prediction test on green)"
    text += f", {d['green_share']:.0%} on green"
    if d["paused"]:
        text += " [yellow](paused)[/]"
    return text


def alarms_table(d: DeploymentInfo) -> Table:
    table = Table("alarm", "state", box=None)
    for name, state in d["alarms"].items():
        colour = {"OK": "green", "ALARM": "red"}.get(state, "yellow")
        table.add_row(name, f"[{colour}]{state}[/]")
    return table


def events_table(d: DeploymentInfo, last: int | None = None) -> Table:
    table = Table("time", "event", "green", "message", box=None)
    for e in d["events"][-last:] if last else d["events"]:
        share = "" if e["green_share"] is None else f"{e['green_share']:.0%}"
        table.add_row(format_time(e["at"]), e["kind"], share, e["message"])
    return table


def _view(d: DeploymentInfo, bar: Progress) -> Group:
    parts: list[Any] = [headline(d), bar]
    if d["alarms"]:
        parts.append(alarms_table(d))
    parts.append(events_table(d, last=6))
    if d["failure_reason"]:
        parts.append(f"[red]reason[/] {d['failure_reason']}")
    return Group(*parts)


def watch_deployment(
    client: Client, name: str, timeout: float, show: bool = True
) -> DeploymentInfo:
    """Until the deployment finishes (shown live unless `show` is off); the finished one."""
    deadline = time.monotonic() + timeout
    d = _current_or_last(client.deployments(name), name)
    bar = Progress(BarColumn(), TextColumn("{task.description}"))
    task = bar.add_task("", total=len(d["steps"]))
    live = Live(_view(d, bar), console=console, refresh_per_second=4, transient=False)
    with live if show else contextlib.nullcontext():
        while True:
            completed, label = progress_of(d, time.time())
            bar.update(task, completed=completed, description=label)
            if show:
                live.update(_view(d, bar))
            if d["phase"] in _FINISHED:
                return d
            if time.monotonic() >= deadline:
                fail(f"{name}: still {d['phase']} after {timeout:g} s; keep watching with "
                     f"`turnout deploy watch {name}`")  # fmt: skip
            time.sleep(0.25)
            latest = client.deployments(name, limit=1)
            d = latest["current"] or next((p for p in latest["past"] if p["id"] == d["id"]), d)


def _current_or_last(found: DeploymentsInfo, name: str) -> DeploymentInfo:
    if found["current"] is not None:
        return found["current"]
    if found["past"]:
        return found["past"][0]
    fail(f"endpoint {name} has had no guarded deployment; start one with "
         f"`turnout endpoint update {name} CONFIG --canary 10% --bake 60`")  # fmt: skip


def finish(d: DeploymentInfo, as_json: bool) -> None:
    """After watching: the JSON if asked; exit status 1 with the reason if rolled back."""
    if as_json:
        print_json(d)
    if d["phase"] in ("RolledBack", "RollbackFailed"):
        fail(f"deployment of {d['green_config']} to {d['endpoint']} {d['phase']}: "
             f"{d['failure_reason']}")  # fmt: skip


# -- commands ---------------------------------------------------------------------------


@app.command("watch")
def watch_command(
    name: Endpoint,
    timeout: Annotated[float, typer.Option(help="Seconds to watch at most.", min=1)] = 3600,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
) -> None:
    """Show the deployment's steps live (progress, alarms, history) until it finishes."""
    with connect(url, credentials) as client:
        d = watch_deployment(client, name, timeout)
    finish(d, False)


@app.command("status")
def status_command(
    name: Endpoint,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
    as_json: Json = False,
) -> None:
    """The deployment in progress (or the last one) with its history."""
    with connect(url, credentials) as client:
        found = client.deployments(name)
    if as_json:
        print_json(found)
        return
    d = _current_or_last(found, name)
    console.print(headline(d))
    if d["alarms"]:
        console.print(alarms_table(d))
    console.print(events_table(d))
    if d["failure_reason"]:
        console.print(f"[red]reason[/] {d['failure_reason']}")


def _request(action: str, doc: str) -> None:
    def command(
        name: Endpoint, url: Url = DEFAULT_URL, credentials: CredentialsFile = None,
        as_json: Json = False,
    ) -> None:  # fmt: skip
        with connect(url, credentials) as client:
            d = client.request_deployment(name, action)
        if as_json:
            print_json(d)
        else:
            console.print(f"{action} requested for the deployment of {d['green_config']} to {name}")

    command.__doc__ = doc
    app.command(action)(command)


_request("pause", "Hold the current step (alarms still roll back).")
_request("resume", "Go on from a pause (also past an alarm with INSUFFICIENT_DATA).")
_request("promote", "Skip the remaining bakes: 100% to green, then the termination wait.")
_request("rollback", "All traffic back to blue now; green is torn down.")

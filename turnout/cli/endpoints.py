"""`turnout endpoint-config ...`, `turnout endpoint ...` and `turnout traffic`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from turnout.checks import data, thresholds
from turnout.cli import deploy
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
from turnout.cli.models import batching_text, format_time
from turnout.cli.pairs import number, parse_numbers, parse_pairs
from turnout.cli.waiting import wait_with_status
from turnout.client import EndpointConfigInfo, EndpointInfo, Variant
from turnout.domain.checks import DEFAULT_BATCH, MAX_INLINE_ROWS, Bound, Task

config_app = typer.Typer(
    help="Endpoint configs: immutable lists of production variants.", no_args_is_help=True
)
app = typer.Typer(help="Endpoints: named URLs serving an endpoint config.", no_args_is_help=True)

Wait = Annotated[
    bool, typer.Option("--wait/--no-wait", help="Wait until the endpoint is InService.")
]
Timeout = Annotated[float, typer.Option(help="Seconds to wait at most.", min=1)]
VARIANT_SHAPE = "NAME=MODEL[,instances=N][,weight=W][,type=ml.m5.large]"


# -- endpoint configs -------------------------------------------------------------------


@config_app.command("create")
def create_config(
    name: Annotated[str, typer.Argument(help="Endpoint config name.")],
    variant: Annotated[
        list[str],
        typer.Option(
            "--variant",
            "-v",
            help=f"A production variant as {VARIANT_SHAPE}; repeat for each (1-10). "
            "Defaults: 1 instance, weight 1.",
        ),
    ],
    shadow: Annotated[
        list[str] | None,
        typer.Option(
            "--shadow",
            "-s",
            help=f"A shadow variant as {VARIANT_SHAPE}: it gets a copy of weight / production "
            "weight of the requests and never answers callers (one production variant then).",
        ),
    ] = None,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
    as_json: Json = False,
) -> None:
    """Create an endpoint config, e.g. `-v A=digits-a,weight=0.5 -v B=digits-b,weight=0.5`,
    or with a shadow mirrored half the requests: `-v A=digits-a -s B=digits-b,weight=0.5`."""
    variants = [parse_variant(spec) for spec in variant]
    shadows = [parse_variant(spec, "--shadow") for spec in shadow or ()]
    with connect(url, credentials) as client:
        config = client.create_endpoint_config(name, variants, shadow_variants=shadows)
    if as_json:
        print_json(config)
        return
    console.print(f"endpoint config [bold]{name}[/] created")
    console.print(configs_table([config]))


def parse_variant(spec: str, option: str = "--variant") -> Variant:
    head, *options = spec.split(",")
    name, sep, model = head.partition("=")
    if not sep or not name.strip() or not model.strip():
        raise typer.BadParameter(f"{spec!r} is not {VARIANT_SHAPE}", param_hint=option)
    known = parse_pairs(options, option, VARIANT_SHAPE)
    unknown = set(known) - {"instances", "weight", "type"}
    if unknown:
        raise typer.BadParameter(
            f"unknown option {sorted(unknown)[0]!r} in {spec!r}: use {VARIANT_SHAPE}",
            param_hint=option,
        )
    return Variant(
        name=name.strip(),
        model=model.strip(),
        instance_count=number("instances", known["instances"], int, option)
        if "instances" in known
        else 1,
        weight=number("weight", known["weight"], float, option) if "weight" in known else 1.0,
        instance_type=known.get("type"),
    )


@config_app.command("list")
def list_configs(
    url: Url = DEFAULT_URL, credentials: CredentialsFile = None, as_json: Json = False
) -> None:
    """List endpoint configs."""
    with connect(url, credentials) as client:
        configs = client.list_endpoint_configs()
    if as_json:
        print_json(configs)
        return
    console.print(configs_table(configs))


@config_app.command("describe")
def describe_config(
    name: Annotated[str, typer.Argument(help="Endpoint config name.")],
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
    as_json: Json = False,
) -> None:
    """Show one endpoint config and its variants."""
    with connect(url, credentials) as client:
        config = client.describe_endpoint_config(name)
    if as_json:
        print_json(config)
        return
    console.print(configs_table([config]))


@config_app.command("delete")
def delete_config(
    name: Annotated[str, typer.Argument(help="Endpoint config name.")],
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
) -> None:
    """Delete an endpoint config (endpoints using it keep running)."""
    with connect(url, credentials) as client:
        client.delete_endpoint_config(name)
    console.print(f"endpoint config [bold]{name}[/] deleted")


def configs_table(configs: list[EndpointConfigInfo]) -> Table:
    table = Table("config", "variant", "model", "instances", "weight", "created", box=None)
    for config in configs:
        shadows = config.get("shadow_variants") or []
        rows = [(v, "") for v in config["variants"]] + [(v, " (shadow)") for v in shadows]
        for i, (v, role) in enumerate(rows):
            table.add_row(
                config["name"] if i == 0 else "",
                v["name"] + role,
                v["model"],
                str(v["instance_count"]),
                f"{v['weight']:g}",
                format_time(config["created_at"]) if i == 0 else "",
            )
    return table


# -- endpoints --------------------------------------------------------------------------


@app.command("create")
def create_endpoint(
    name: Annotated[str, typer.Argument(help="Endpoint name; invocations go to /endpoints/NAME.")],
    config: Annotated[str, typer.Argument(help="The endpoint config to serve.")],
    wait: Wait = True,
    timeout: Timeout = 600,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
    as_json: Json = False,
) -> None:
    """Create an endpoint: start the config's instances and route traffic to them."""
    with connect(url, credentials) as client:
        endpoint = client.create_endpoint(name, config)
        if wait:
            endpoint = wait_with_status(client, name, timeout)
    finish(endpoint, as_json, url)


@app.command("list")
def list_endpoints(
    url: Url = DEFAULT_URL, credentials: CredentialsFile = None, as_json: Json = False
) -> None:
    """List endpoints with their status and variants."""
    with connect(url, credentials) as client:
        listed = client.list_endpoints()
    if as_json:
        print_json(listed)
        return
    table = Table("endpoint", "status", "config", "variants", "modified", box=None)
    for e in listed:
        variants = ", ".join(f"{v['name']} {share(v['current_weight'], e)}" for v in e["variants"])
        table.add_row(
            e["name"], status_text(e["status"]), e["config"], variants,
            format_time(e["last_modified_at"]),
        )  # fmt: skip
    console.print(table)


@app.command("describe")
def describe_endpoint(
    name: Annotated[str, typer.Argument(help="Endpoint name.")],
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
    as_json: Json = False,
) -> None:
    """Show an endpoint: status, variants with current/desired weights, instances."""
    with connect(url, credentials) as client:
        endpoint = client.describe_endpoint(name)
    finish(endpoint, as_json, url)


@app.command("update")
def update_endpoint(
    name: Annotated[str, typer.Argument(help="Endpoint name.")],
    config: Annotated[str, typer.Argument(help="The endpoint config to switch to.")],
    canary: Annotated[
        str | None,
        typer.Option(
            help="Shift this share to the new fleet first (10% or an instance count).",
            rich_help_panel="Guarded deployment",
        ),
    ] = None,
    linear: Annotated[
        str | None,
        typer.Option(
            help="Shift in steps of this size (10%-50%, or instances).",
            rich_help_panel="Guarded deployment",
        ),
    ] = None,
    bake: Annotated[
        int | None,
        typer.Option(
            help="Seconds each step bakes, watching the alarms (0-3600).",
            rich_help_panel="Guarded deployment",
        ),
    ] = None,
    termination_wait: Annotated[
        int | None,
        typer.Option(
            help="Seconds the old fleet stays after the shift (0-3600).",
            rich_help_panel="Guarded deployment",
        ),
    ] = None,
    max_time: Annotated[
        int | None,
        typer.Option(
            help="Roll back if not done in this many seconds (600-28800).",
            rich_help_panel="Guarded deployment",
        ),
    ] = None,
    alarm: Annotated[
        list[str] | None,
        typer.Option(
            help="Roll back when this alarm is in ALARM while baking; repeatable.",
            rich_help_panel="Guarded deployment",
        ),
    ] = None,
    pause_on_insufficient_data: Annotated[
        bool,
        typer.Option(
            "--pause-on-insufficient-data",
            help="Pause when an alarm has INSUFFICIENT_DATA at the end of a bake.",
            rich_help_panel="Guarded deployment",
        ),
    ] = False,
    check_data: Annotated[
        Path | None,
        typer.Option(
            help="Prediction test the new fleet must pass before any traffic shifts: a CSV or "
            "JSON Lines file as `turnout check` reads (at most 5,000 rows).",
            dir_okay=False,
            rich_help_panel="Prediction test",
        ),
    ] = None,
    check_min: Annotated[
        list[str] | None,
        typer.Option(
            metavar="METRIC=VALUE",
            help="e.g. accuracy=0.9; repeatable.",
            rich_help_panel="Prediction test",
        ),
    ] = None,
    check_max: Annotated[
        list[str] | None,
        typer.Option(
            metavar="METRIC=VALUE",
            help="e.g. mae=0.5; repeatable.",
            rich_help_panel="Prediction test",
        ),
    ] = None,
    check_label: Annotated[
        str | None,
        typer.Option(help="Column of the expected answers.", rich_help_panel="Prediction test"),
    ] = None,
    check_task: Annotated[
        Task | None, typer.Option(help="Default: inferred.", rich_help_panel="Prediction test")
    ] = None,
    check_batch: Annotated[
        int, typer.Option(help="Rows per request.", min=1, rich_help_panel="Prediction test")
    ] = DEFAULT_BATCH,
    wait: Wait = True,
    timeout: Timeout = 600,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
    as_json: Json = False,
) -> None:
    """Switch an endpoint to another config: start the new fleet, then move the traffic,
    all at once or step by step (e.g. `--canary 10% --bake 60 --alarm digits-5xx`), after
    a prediction test on the new fleet if given (`--check-data rows.csv --check-min
    accuracy=0.9`)."""
    policy = deploy.deployment_config(
        canary=canary, linear=linear, bake=bake, termination_wait=termination_wait,
        max_time=max_time, alarms=alarm or [],
        pause_on_insufficient_data=pause_on_insufficient_data,
    )  # fmt: skip
    test = None
    if check_data is not None:
        test = prediction_test(check_data, check_min, check_max, check_label, check_task,
                               check_batch)  # fmt: skip
        if policy is None:
            policy = deploy.deployment_config(
                canary=None, linear=None, bake=0, termination_wait=None, max_time=None,
                alarms=[], pause_on_insufficient_data=False,
            )  # fmt: skip
    elif check_min or check_max:
        raise typer.BadParameter("give the test's rows with --check-data", param_hint="--check-min")
    with connect(url, credentials) as client:
        endpoint = client.update_endpoint(name, config, policy, test)
        if wait and policy is not None:
            watched = deploy.watch_deployment(client, name, timeout, show=not as_json)
            deploy.finish(watched, as_json)
            return
        if wait:
            endpoint = wait_with_status(client, name, timeout)
    finish(endpoint, as_json, url)


@app.command("delete")
def delete_endpoint(
    name: Annotated[str, typer.Argument(help="Endpoint name.")],
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until it is gone.")] = True,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
) -> None:
    """Delete an endpoint and stop its instances."""
    with connect(url, credentials) as client:
        client.delete_endpoint(name)
        if wait:
            with console.status(f"deleting {name} ..."):
                client.wait_for_deleted(name)
    console.print(f"endpoint [bold]{name}[/] deleted")


@app.command("wait")
def wait_endpoint(
    name: Annotated[str, typer.Argument(help="Endpoint name.")],
    timeout: Timeout = 600,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
) -> None:
    """Wait until an endpoint is InService (exit status 1 if it fails)."""
    with connect(url, credentials) as client:
        endpoint = wait_with_status(client, name, timeout)
    finish(endpoint, False, url)


def traffic_command(
    endpoint: Annotated[str, typer.Argument(help="Endpoint name.")],
    weights: Annotated[
        list[str] | None,
        typer.Argument(help="New weights as VARIANT=WEIGHT, e.g. A=0.9 B=0.1.", show_default=False),
    ] = None,
    instances: Annotated[
        list[str] | None,
        typer.Option("--instances", "-i", help="New instance count as VARIANT=N; repeatable."),
    ] = None,
    wait: Wait = True,
    timeout: Timeout = 600,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
    as_json: Json = False,
) -> None:
    """Change live weights and instance counts, e.g. `turnout traffic digits A=0.9 B=0.1`."""
    new_weights = parse_numbers(weights or [], "WEIGHTS", "VARIANT=WEIGHT", float)
    new_counts = parse_numbers(instances or [], "--instances", "VARIANT=N", int)
    if not new_weights and not new_counts:
        fail("nothing to change: give weights like A=0.9 B=0.1 and/or --instances A=2")
    with connect(url, credentials) as client:
        result = client.update_traffic(endpoint, new_weights, new_counts)
        if wait:
            result = wait_with_status(client, endpoint, timeout)
    finish(result, as_json, url)


# -- output -----------------------------------------------------------------------------


def finish(endpoint: EndpointInfo, as_json: bool, url: str) -> None:
    if as_json:
        print_json(endpoint)
        return
    console.print(endpoint_panel(endpoint, url))


def status_text(status: str) -> str:
    colour = {"InService": "green", "Failed": "red", "Deleting": "red"}.get(status, "yellow")
    return f"[{colour}]{status}[/]"


def share(weight: float | None, endpoint: EndpointInfo) -> str:
    total = sum(v["current_weight"] or 0.0 for v in endpoint["variants"])
    if weight is None or total <= 0:
        return "-"
    return f"{weight / total:.0%}"


def endpoint_panel(endpoint: EndpointInfo, url: str) -> Table:
    head = Table.grid(padding=(0, 1))
    head.add_row(
        "[bold]" + endpoint["name"] + "[/]",
        status_text(endpoint["status"]),
        f"config {endpoint['config']}"
        + (f" → {endpoint['pending_config']}" if endpoint["pending_config"] else ""),
    )
    if endpoint["failure_reason"]:
        head.add_row("", "[red]reason[/]", endpoint["failure_reason"])
    deployment = endpoint.get("deployment")
    if deployment:
        head.add_row("", "deploying", deploy.headline(deployment))
    head.add_row("", "invoke", f"POST {url.rstrip('/')}{endpoint['url']}")
    capture = endpoint.get("data_capture")
    if capture:
        text = (
            f"{capture['status']}, {capture['sampling_percentage']}% to {capture['destination']} "
            f"({capture['captured']} captured, {capture['dropped']} dropped)"
        )
        head.add_row("", "capture", text + (f": {capture['reason']}" if capture["reason"] else ""))
    variants = Table(
        "variant", "model", "weight (current → desired)", "share", "instances", "ready",
        "batching", box=None,
    )  # fmt: skip
    for v in endpoint["variants"]:
        current = "-" if v["current_weight"] is None else f"{v['current_weight']:g}"
        count = "-" if v["current_instance_count"] is None else str(v["current_instance_count"])
        ready = sum(1 for i in v["instances"] if i["ready"])
        variants.add_row(
            v["name"],
            v.get("model") or "-",
            f"{current} → {v['desired_weight']:g}",
            share(v["current_weight"], endpoint),
            f"{count} → {v['desired_instance_count']}",
            f"{ready}/{len(v['instances'])}",
            batching_text(v.get("batching")),
        )
    outer = Table.grid()
    outer.add_row(head)
    outer.add_row(variants)
    return outer


def prediction_test(
    path: Path,
    minimum: list[str] | None,
    maximum: list[str] | None,
    label: str | None,
    task: Task | None,
    batch: int,
) -> dict[str, Any]:
    """The `prediction_test` of an update from the --check-* options (exit 2 if unusable)."""
    try:
        dataset = data.read(path, label, max_rows=MAX_INLINE_ROWS)
    except data.DataError as exc:
        fail(str(exc), code=2)
    if not dataset.labelled:
        fail(f"{path} has no column of expected answers; name it with --check-label", code=2)
    bounds: dict[str, dict[str, float]] = {"min": {}, "max": {}}
    for texts, bound in ((minimum or [], Bound.MIN), (maximum or [], Bound.MAX)):
        for text in texts:
            try:
                t = thresholds.parse(text, bound)
            except thresholds.ThresholdError as exc:
                raise typer.BadParameter(str(exc), param_hint=f"--check-{bound.value}") from None
            bounds[bound.value][t.metric] = t.value
    test: dict[str, Any] = {
        "rows": [{"inputs": list(r.inputs), "expected": r.expected} for r in dataset.rows],
        **bounds,
        "batch_size": batch,
    }
    if task is not None:
        test["task"] = task.value
    return test

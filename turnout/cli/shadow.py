"""`turnout shadow ...`: shadow variants' comparisons and shadow tests (inference experiments)."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.table import Table

from turnout.cli.common import (
    DEFAULT_URL,
    CredentialsFile,
    Url,
    connect,
    console,
    print_json,
)

app = typer.Typer(
    help="Shadow variants: compare a candidate with production on real traffic, unseen by "
    "callers; shadow tests start, report and promote or remove them (SageMaker's inference "
    "experiments).",
    no_args_is_help=True,
)

Json = Annotated[bool, typer.Option("--json", help="Print the API's JSON.")]


@app.command("report")
def report_command(
    endpoint: Annotated[str, typer.Argument(help="The endpoint whose shadow variants to show.")],
    since: Annotated[
        float, typer.Option("--since", help="Seconds back to look.", min=1, max=30 * 86400)
    ] = 3600,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
    as_json: Json = False,
) -> None:
    """Each shadow variant's agreement with production, latency and errors of both sides."""
    with connect(url, credentials) as client:
        reports = client.shadow_reports(endpoint, since)
    if as_json:
        print_json(reports)
        return
    if not reports:
        console.print(f"no shadow comparisons for {endpoint} in the last {since:g} s")
        return
    for found in reports:
        console.print(comparison_table(found))


@app.command("start")
def start_command(
    name: Annotated[str, typer.Argument(help="Name of the shadow test.")],
    endpoint: Annotated[str, typer.Option("--endpoint", "-e", help="The endpoint to test on.")],
    model: Annotated[str, typer.Option("--model", "-m", help="The candidate model.")],
    variant: Annotated[
        str, typer.Option("--variant", help="The shadow variant's name.")
    ] = "shadow",
    sampling: Annotated[
        int, typer.Option("--sampling", help="Percent of requests copied.", min=1, max=100)
    ] = 100,
    instances: Annotated[
        int, typer.Option("--instances", help="Instances of the shadow variant.", min=1, max=64)
    ] = 1,
    duration: Annotated[
        float,
        typer.Option("--duration", help="Seconds until it completes by itself.", min=1),
    ] = 7 * 86400,
    rtol: Annotated[float, typer.Option("--rtol", help="Relative tolerance.", min=0)] = 1e-5,
    atol: Annotated[float, typer.Option("--atol", help="Absolute tolerance.", min=0)] = 1e-8,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
    as_json: Json = False,
) -> None:
    """Mirror SAMPLING% of ENDPOINT's requests to MODEL as a shadow variant, from now on."""
    with connect(url, credentials) as client:
        described = client.describe_endpoint(endpoint)
        config = client.describe_endpoint_config(described["config"])
        source = config["variants"][0]
        infrastructure = {
            "InfrastructureType": "RealTimeInference",
            "RealTimeInferenceConfig": {
                "InstanceType": source.get("instance_type") or "ml.m5.large",
                "InstanceCount": source["instance_count"],
            },
        }
        shadow_infrastructure = {
            "InfrastructureType": "RealTimeInference",
            "RealTimeInferenceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": instances},
        }
        now = time.time()
        created = client.create_inference_experiment(
            {
                "Name": name,
                "Type": "ShadowMode",
                "EndpointName": endpoint,
                "ModelVariants": [
                    {"ModelName": source["model"], "VariantName": source["name"],
                     "InfrastructureConfig": infrastructure},
                    {"ModelName": model, "VariantName": variant,
                     "InfrastructureConfig": shadow_infrastructure},
                ],
                "ShadowModeConfig": {
                    "SourceModelVariantName": source["name"],
                    "ShadowModelVariants": [
                        {"ShadowModelVariantName": variant, "SamplingPercentage": sampling}
                    ],
                },
                "Schedule": {"StartTime": now, "EndTime": now + duration},
                "Tolerance": {"rtol": rtol, "atol": atol},
            }
        )  # fmt: skip
    if as_json:
        print_json(created)
        return
    console.print(
        f"shadow test [bold]{name}[/]: {created['Status']}; {sampling}% of {endpoint}'s "
        f"requests go to {model} as variant {variant} once the endpoint is updated"
    )


@app.command("list")
def list_command(
    url: Url = DEFAULT_URL, credentials: CredentialsFile = None, as_json: Json = False
) -> None:
    """The shadow tests, oldest first."""
    with connect(url, credentials) as client:
        experiments = client.list_inference_experiments()
    if as_json:
        print_json(experiments)
        return
    table = Table("name", "endpoint", "status", "shadow", "sampling", "created", box=None)
    for e in experiments:
        shadow = e["ShadowModeConfig"]["ShadowModelVariants"][0]
        table.add_row(
            e["Name"],
            e["EndpointMetadata"]["EndpointName"],
            e["Status"],
            shadow["ShadowModelVariantName"],
            f"{shadow['SamplingPercentage']}%",
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e["CreationTime"])),
        )
    console.print(table)


@app.command("show")
def show_command(
    name: Annotated[str, typer.Argument(help="The shadow test.")],
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
    as_json: Json = False,
) -> None:
    """A shadow test's status and its comparison report."""
    with connect(url, credentials) as client:
        described = client.describe_inference_experiment(name)
        found = client.inference_experiment_report(name)
    if as_json:
        print_json({"experiment": described, "report": found})
        return
    reason = f" ({described['StatusReason']})" if described.get("StatusReason") else ""
    console.print(f"shadow test [bold]{name}[/]: {described['Status']}{reason}")
    console.print(comparison_table(found))


@app.command("stop")
def stop_command(
    name: Annotated[str, typer.Argument(help="The shadow test.")],
    promote: Annotated[
        bool,
        typer.Option("--promote", help="Production serves the shadow's model from now on."),
    ] = False,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the shadow variant mirroring (Retain).")
    ] = False,
    cancel: Annotated[bool, typer.Option("--cancel", help="End it as Cancelled.")] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Why, for the record.")] = None,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
    as_json: Json = False,
) -> None:
    """End a shadow test: by default the shadow variant is removed and production stays."""
    if promote and keep:
        raise typer.BadParameter("--promote and --keep exclude each other", param_hint="--keep")
    with connect(url, credentials) as client:
        described = client.describe_inference_experiment(name)
        source = described["ShadowModeConfig"]["SourceModelVariantName"]
        shadow = described["ShadowModeConfig"]["ShadowModelVariants"][0]["ShadowModelVariantName"]
        if promote:
            actions = {source: "Remove", shadow: "Promote"}
        else:
            actions = {source: "Retain", shadow: "Retain" if keep else "Remove"}
        stopped = client.stop_inference_experiment(
            name, actions, "Cancelled" if cancel else "Completed", reason
        )
    if as_json:
        print_json(stopped)
        return
    done = "promoting its model" if promote else "keeping the shadow" if keep else "removing it"
    console.print(f"shadow test [bold]{name}[/]: {stopped['Status']}, {done}")


def comparison_table(found: dict[str, Any]) -> Table:
    """One shadow variant's comparison with production, side by side."""
    agreement = found["agreement"]
    table = Table("", "production", "shadow", box=None, title_justify="left")
    table.title = (
        f"{found['shadow_variant']} vs {', '.join(found['production_variants']) or 'production'}"
        f": {found['pairs']} pairs, agreement "
        + ("n/a" if agreement is None else f"{agreement:.2%} of {found['compared']}")
        + (f", {found['dropped']} copies dropped" if found["dropped"] else "")
    )
    production, shadow = found["production"], found["shadow"]
    table.add_row("p50 (ms)", _number(production["p50_ms"]), _number(shadow["p50_ms"]))
    table.add_row("p99 (ms)", _number(production["p99_ms"]), _number(shadow["p99_ms"]))
    table.add_row("errors", str(production["errors"]), str(shadow["errors"]))
    table.add_row("error rate", _percent(production["error_rate"]), _percent(shadow["error_rate"]))
    for example in found["examples"][:3]:
        table.add_row(
            "disagrees on",
            example["production"]["body"][:40],
            example["shadow"]["body"][:40],
        )
    return table


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"

"""`turnout model ...`: register, list, describe and delete models."""

from __future__ import annotations

import shlex
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
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
from turnout.cli.pairs import parse_pairs
from turnout.client import BatchingInfo, ModelInfo
from turnout.models import registry

app = typer.Typer(help="Register and inspect models.", no_args_is_help=True)

FLAVORS = tuple(registry.names())


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Model name (letters, digits and hyphens).")],
    artifact: Annotated[
        str,
        typer.Argument(help="A model directory or model.tar.gz (SageMaker's layout is valid)."),
    ],
    flavor: Annotated[
        str, typer.Option(help=f"One of {', '.join(FLAVORS)}; auto looks at the artifact.")
    ] = "auto",
    command: Annotated[
        str | None,
        typer.Option(
            help="For the command flavor: the program that serves /ping and /invocations on "
            "$SAGEMAKER_BIND_TO_PORT, run in the artifact directory.",
        ),
    ] = None,
    env: Annotated[
        list[str] | None,
        typer.Option("--env", "-e", help="KEY=VALUE passed to the instance; repeatable."),
    ] = None,
    multi_model: Annotated[
        bool,
        typer.Option(
            "--multi-model",
            help="ARTIFACT is a directory or s3:// prefix of many model.tar.gz; each "
            "invocation names one (TargetModel). See docs/multi-model.md.",
        ),
    ] = False,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
    as_json: Json = False,
) -> None:
    """Register a model from a directory or a .tar.gz on this machine (or, with
    --multi-model, a directory or s3:// prefix holding many)."""
    if flavor not in FLAVORS:
        fail(f"unknown --flavor {flavor!r}: use one of {', '.join(FLAVORS)}")
    location = Path(artifact).expanduser()
    if "://" not in artifact:
        if not location.exists():
            what = "a directory of models" if multi_model else "a model directory or a model.tar.gz"
            fail(f"{artifact} does not exist: give {what}")
        artifact = str(location.resolve())
    environment = parse_pairs(env or [], "--env", "KEY=VALUE")
    with connect(url, credentials) as client:
        model = client.create_model(
            name,
            artifact,
            flavor=flavor,
            command=shlex.split(command) if command else None,
            environment=environment,
            mode="multi_model" if multi_model else "single_model",
        )
    if as_json:
        print_json(model)
        return
    console.print(f"model [bold]{model['name']}[/] registered ({model['flavor']} flavor)")
    for warning in model["warnings"]:
        console.print(f"[yellow]warning:[/] {warning}", soft_wrap=True)


@app.command("list")
def list_(
    url: Url = DEFAULT_URL, credentials: CredentialsFile = None, as_json: Json = False
) -> None:
    """List the registered models."""
    with connect(url, credentials) as client:
        listed = client.list_models()
    if as_json:
        print_json(listed)
        return
    console.print(models_table(listed))


@app.command("describe")
def describe(
    name: Annotated[str, typer.Argument(help="Model name.")],
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
    as_json: Json = False,
) -> None:
    """Show one model."""
    with connect(url, credentials) as client:
        model = client.describe_model(name)
    if as_json:
        print_json(model)
        return
    console.print(models_table([model]))
    for key, value in model["environment"].items():
        console.print(f"  env {key}={value}")
    console.print(f"  batching {batching_text(model['batching'])}")


@app.command("delete")
def delete(
    name: Annotated[str, typer.Argument(help="Model name.")],
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
) -> None:
    """Delete a model (endpoints already running it keep their instances)."""
    with connect(url, credentials) as client:
        client.delete_model(name)
    console.print(f"model [bold]{name}[/] deleted")


def batching_text(batching: BatchingInfo | None) -> str:
    """`≤32 per call`, `≤32, waits 2 ms`, `off`, with the flavor's condition if any."""
    if batching is None:
        return "-"
    if batching["max_batch_size"] <= 1 or batching["applies"].startswith("no"):
        return "off"
    text = f"≤{batching['max_batch_size']} per call"
    if batching["max_batch_delay_ms"]:
        text += f", waits ≤{batching['max_batch_delay_ms']:g} ms"
    if batching["applies"] != "yes":
        text += f" ({batching['applies']})"
    return text


def models_table(models: list[ModelInfo]) -> Table:
    table = Table("name", "flavor", "artifact", "created", box=None, pad_edge=False)
    for model in models:
        table.add_row(
            model["name"], model["flavor"], model["artifact"], format_time(model["created_at"])
        )
    return table


def format_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")

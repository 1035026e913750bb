"""`turnout serve`: run the router, control plane and instances until Ctrl-C."""

from __future__ import annotations

import dataclasses
import logging
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.logging import RichHandler

import turnout
from turnout.api.auth import (
    ACCESS_KEY_VAR,
    SECRET_KEY_VAR,
    CredentialsError,
    exposure_problem,
    load_credentials,
)
from turnout.cli.common import console, fail
from turnout.settings import Settings, default_data_dir

DEFAULTS = Settings()


class Backend(StrEnum):
    local = "local"
    ray = "ray"


def serve_command(
    host: Annotated[
        str, typer.Option(help="Address to listen on. Keep 127.0.0.1 unless you need others.")
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            help="Port for the APIs and invocations (SageMaker runtime and the Open "
            "Inference Protocol's HTTP/REST)."
        ),
    ] = 8080,
    grpc_port: Annotated[
        int | None,
        typer.Option(
            "--grpc-port",
            help="Also serve the Open Inference Protocol (KServe v2 / Triton) over gRPC on "
            "this port. Default: no gRPC.",
            min=1,
            max=65535,
        ),
    ] = None,
    data_dir: Annotated[
        Path,
        typer.Option(
            "--data-dir",
            envvar="TURNOUT_DATA_DIR",
            help="Where the store, model copies and instance logs live.",
            file_okay=False,
        ),
    ] = default_data_dir(),
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="TURNOUT_DB",
            help="SQLAlchemy URL of the store "
            "(e.g. postgresql+psycopg://127.0.0.1/turnout). Default: DATA_DIR/turnout.db.",
        ),
    ] = None,
    model_timeout: Annotated[
        float,
        typer.Option(
            envvar="TURNOUT_MODEL_TIMEOUT",
            help="Seconds the router waits for a model's answer; past it the caller gets a "
            "ModelError (424) and the instance is restarted (SageMaker: 60).",
            min=0.1,
        ),
    ] = DEFAULTS.model_timeout,
    outlier_failures: Annotated[
        int,
        typer.Option(
            "--outlier-failures",
            envvar="TURNOUT_OUTLIER_FAILURES",
            help="Eject an instance from its variant's rotation after this many 5xx, timeouts "
            "or lost answers in a row (0: never on failures).",
            min=0,
        ),
    ] = DEFAULTS.outlier_failures,
    outlier_latency_factor: Annotated[
        float,
        typer.Option(
            "--outlier-latency-factor",
            envvar="TURNOUT_OUTLIER_LATENCY_FACTOR",
            help="Eject an instance whose recent latency is this many times the median of "
            "its variant's instances (at least 3 with traffic; 0: never on latency).",
            min=0.0,
        ),
    ] = DEFAULTS.outlier_latency_factor,
    outlier_ejection_time: Annotated[
        float,
        typer.Option(
            "--outlier-ejection-time",
            envvar="TURNOUT_OUTLIER_EJECTION_TIME",
            help="Seconds a first ejection lasts; the n-th in a row lasts n times as long "
            "(at most 300 s or this, whichever is more).",
            min=0.1,
        ),
    ] = DEFAULTS.outlier_ejection_time,
    outlier_max_ejection_percent: Annotated[
        float,
        typer.Option(
            "--outlier-max-ejection-percent",
            envvar="TURNOUT_OUTLIER_MAX_EJECTION_PERCENT",
            help="At most this share of a variant's instances is ejected at once (at least "
            "one of two or more, never all; 0: outlier ejection off).",
            min=0.0,
            max=100.0,
        ),
    ] = DEFAULTS.outlier_max_ejection_percent,
    serverless_idle: Annotated[
        float,
        typer.Option(
            "--serverless-idle",
            envvar="TURNOUT_SERVERLESS_IDLE",
            help="Seconds without a request after which a serverless variant's instance "
            "stops (scale to zero; ProvisionedConcurrency keeps one warm).",
            min=0.1,
        ),
    ] = DEFAULTS.serverless_idle,
    startup_timeout: Annotated[
        float,
        typer.Option(help="Seconds an instance may take to load its model and pass /ping.", min=1),
    ] = 300.0,
    instance_memory_limit: Annotated[
        int,
        typer.Option(
            "--instance-memory-limit",
            help="Restart an instance whose resident memory exceeds this many MB (0: no limit).",
            min=0,
        ),
    ] = 4096,
    log_level: Annotated[
        str, typer.Option(help="debug, info, warning or error.", case_sensitive=False)
    ] = "info",
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log",
            help="Write one line per HTTP request to stderr: time, method, path, endpoint, "
            "variant, status, latency in ms and the caller's access key id.",
        ),
    ] = False,
    credentials: Annotated[
        Path | None,
        typer.Option(
            "--credentials",
            envvar="TURNOUT_CREDENTIALS",
            help="File of access keys (~/.aws/credentials format) whose SigV4 signatures are "
            f"accepted; {ACCESS_KEY_VAR}/{SECRET_KEY_VAR} add one more. Without any, requests "
            "are not authenticated.",
            dir_okay=False,
        ),
    ] = None,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure",
            help="Allow a non-loopback --host without credentials (anyone may deploy).",
        ),
    ] = False,
    account_id: Annotated[
        str,
        typer.Option(envvar="TURNOUT_ACCOUNT_ID", help="AWS account id shown in ARNs (12 digits)."),
    ] = DEFAULTS.account_id,
    region: Annotated[
        str, typer.Option(envvar="TURNOUT_REGION", help="AWS region shown in ARNs.")
    ] = DEFAULTS.region,
    node: Annotated[
        str | None,
        typer.Option(
            envvar="TURNOUT_NODE",
            help="This process's name among the `turnout serve` processes sharing one --db "
            "(see `turnout nodes`). Default: HOSTNAME:PORT.",
        ),
    ] = None,
    lease_seconds: Annotated[
        float,
        typer.Option(
            "--lease-seconds",
            help="The controller lease: when the node running the controller dies, another "
            "takes over within about this time; a node silent this long counts as gone. "
            "Also the lease on an asynchronous request: one whose server died runs again "
            "after it.",
            min=1.0,
        ),
    ] = DEFAULTS.lease_ttl,
    backend: Annotated[
        Backend,
        typer.Option(
            help="Where instances run: local (child processes of this server) or ray (actors "
            "on a Ray cluster, see --ray-address and docs/scale-out.md).",
            case_sensitive=False,
        ),
    ] = Backend.local,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            help="With --backend ray: HOST:PORT of the Ray cluster's head (GCS), as `ray start "
            "--head` printed. This machine must run a node of it. Default: RAY_ADDRESS, else "
            "the cluster started on this machine.",
        ),
    ] = None,
    s3_endpoint_url: Annotated[
        str | None,
        typer.Option(
            envvar="TURNOUT_S3_ENDPOINT_URL",
            help="S3-compatible store for s3:// model artifacts (default: AWS). Credentials: "
            "TURNOUT_S3_ACCESS_KEY_ID/TURNOUT_S3_SECRET_ACCESS_KEY, else boto3's usual chain.",
        ),
    ] = None,
    scaling_period: Annotated[
        float,
        typer.Option(
            "--scaling-period",
            envvar="TURNOUT_SCALING_PERIOD",
            help="Seconds per autoscaling datapoint, a multiple of 10 (AWS: 60). Invocation "
            "counts are still per minute.",
            min=10.0,
        ),
    ] = DEFAULTS.scaling_period,
    scaling_out_datapoints: Annotated[
        int,
        typer.Option(
            "--scaling-out-datapoints",
            envvar="TURNOUT_SCALING_OUT_DATAPOINTS",
            help="Datapoints above the target, in a row, that scale out (AWS: 3).",
            min=1,
            max=100,
        ),
    ] = DEFAULTS.scaling_out_datapoints,
    scaling_in_datapoints: Annotated[
        int,
        typer.Option(
            "--scaling-in-datapoints",
            envvar="TURNOUT_SCALING_IN_DATAPOINTS",
            help="Datapoints below 90% of the target, in a row, that scale in (AWS: 15).",
            min=1,
            max=100,
        ),
    ] = DEFAULTS.scaling_in_datapoints,
    monitor_period: Annotated[
        float,
        typer.Option(
            "--monitor-period",
            envvar="TURNOUT_MONITOR_PERIOD",
            help="Seconds between drift monitoring passes over the captured traffic of "
            "endpoints with a baseline (Model Monitor: hourly).",
            min=1.0,
        ),
    ] = DEFAULTS.monitor_period,
    monitor_window: Annotated[
        float | None,
        typer.Option(
            "--monitor-window",
            envvar="TURNOUT_MONITOR_WINDOW",
            help="Seconds of captured traffic each drift pass reads (default: one period).",
            min=1.0,
        ),
    ] = None,
) -> None:
    """Run turnout: the router, the control plane and the model instances, until Ctrl-C."""
    # Imported here: the server stack takes half a second to import, which every other
    # command (model list, invoke, ...) would pay for nothing.
    from turnout.instances.backends import BackendError
    from turnout.server import ServeError, bind, serve

    level = getattr(logging, log_level.upper(), None)
    if not isinstance(level, int):
        fail(f"unknown --log-level {log_level!r}: use debug, info, warning or error")
    logging.basicConfig(
        level=level,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False, markup=False)],
    )
    if not re.fullmatch(r"[0-9]{12}", account_id):
        fail(f"--account-id must be 12 digits, like an AWS account id; got {account_id!r}")
    if not re.fullmatch(r"[a-z0-9-]{1,32}", region):
        fail(f"--region must look like an AWS region (e.g. us-east-1); got {region!r}")
    try:
        secrets = load_credentials(credentials)
    except CredentialsError as exc:
        fail(str(exc))
    if ray_address is not None and backend is not Backend.ray:
        fail("--ray-address goes with --backend ray")
    problem = exposure_problem(host, bool(secrets), insecure)
    if problem is not None:
        fail(problem)
    settings = Settings(
        data_dir=data_dir.expanduser(),
        db_url=db,
        host=host,
        port=port,
        grpc_port=grpc_port,
        model_timeout=model_timeout,
        outlier_failures=outlier_failures,
        outlier_latency_factor=outlier_latency_factor,
        outlier_ejection_time=outlier_ejection_time,
        outlier_max_ejection_percent=outlier_max_ejection_percent,
        startup_timeout=startup_timeout,
        serverless_idle=serverless_idle,
        instance_memory_limit_mb=instance_memory_limit or None,
        account_id=account_id,
        region=region,
        credentials=secrets,
        s3_endpoint_url=s3_endpoint_url,
        node=node,
        lease_ttl=lease_seconds,
        backend=backend.value,
        ray_address=ray_address,
        access_log=access_log,
        scaling_period=scaling_period,
        scaling_out_datapoints=scaling_out_datapoints,
        scaling_in_datapoints=scaling_in_datapoints,
        monitor_period=monitor_period,
        monitor_window=monitor_window,
    )
    if scaling_period % 10:
        fail(f"--scaling-period must be a multiple of 10 seconds (got {scaling_period:g}).")
    try:
        sock = bind(host, port)
        if grpc_port is not None:  # gRPC binds its own socket later: check it is free now
            bind(host, grpc_port, "--grpc-port").close()
    except ServeError as exc:
        fail(str(exc))
    settings = dataclasses.replace(settings, port=sock.getsockname()[1])  # --port 0: the one taken
    url = f"http://{host}:{settings.port}"
    console.print(
        f"turnout {turnout.__version__} serving on [bold]{url}[/]  "
        f"(data {settings.data_dir}, API docs {url}/api/v1/docs)"
    )
    if grpc_port is not None:
        console.print(f"Open Inference Protocol over gRPC on [bold]{host}:{grpc_port}[/]")
    try:
        serve(settings, sock)
    except (ServeError, BackendError) as exc:
        fail(str(exc))

"""Settings of one `turnout serve` process: where it keeps data and the bounds it enforces."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # SageMaker's InvokeEndpoint body limit (6 MB)


def default_data_dir() -> Path:
    return Path.home() / ".turnout"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    # Any SQLAlchemy URL; None means the SQLite file <data_dir>/turnout.db.
    db_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    # The Open Inference Protocol's gRPC port (None: no gRPC); REST is always on `port`.
    grpc_port: int | None = None
    # How long the router waits for a model's answer (SageMaker: 60 s).
    model_timeout: float = 60.0
    # How long an instance may take to load its model and answer /ping.
    startup_timeout: float = 300.0
    max_payload_bytes: int = MAX_PAYLOAD_BYTES
    # Invocations in flight in the router at once; beyond it callers get ServiceUnavailable.
    max_concurrency: int = 1024
    # How long a request waits for a ready instance (e.g. one restarting) before 503.
    instance_wait: float = 5.0
    # A serverless variant's on-demand instance stops after this long without a request
    # (ADR 0038); its first request after that waits for a cold start (at most model_timeout).
    serverless_idle: float = 300.0
    # Outlier ejection (ADR 0034): failures in a row (5xx, timeout, no answer) that eject
    # an instance (0: never on failures); how many times the median latency of its siblings
    # an instance's recent latency must be to be ejected (0: never on latency); how long a
    # first ejection lasts (s; repeated ones last longer); the share of a variant's
    # instances that may be ejected at once (%; 0: outlier ejection off).
    outlier_failures: int = 5
    outlier_latency_factor: float = 3.0
    outlier_ejection_time: float = 30.0
    outlier_max_ejection_percent: float = 50.0
    # An instance whose resident memory exceeds this is restarted (None: no limit).
    instance_memory_limit_mb: int | None = 4096
    account_id: str = "123456789012"
    region: str = "us-east-1"
    # SigV4 access key id -> secret; empty: requests are not authenticated (loopback only).
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)
    # Where s3:// model artifacts come from (None: AWS itself, per boto3's configuration).
    s3_endpoint_url: str | None = None
    # How long metric rollups stay in the store (seconds).
    metrics_retention: float = 24 * 3600.0
    # This process's name among the nodes sharing the store (None: <hostname>:<port>).
    node: str | None = None
    # The controller lease (s): a node silent for longer is gone, and another node takes
    # over the controller within about this time of its holder's death.
    lease_ttl: float = 10.0
    # Where instances run: "local" (child processes) or "ray" (actors on a Ray cluster).
    backend: str = "local"
    # The Ray cluster's head, HOST:PORT (None: RAY_ADDRESS, else this machine's cluster).
    ray_address: str | None = None
    # One line per HTTP request on stderr (turnout.api.access_log); off: not installed.
    access_log: bool = False
    # Autoscaling (ADR 0036): seconds per datapoint (a multiple of the 10-s rollup; AWS: 60)
    # and the datapoints in a row that scale out (AWS: 3) and in (AWS: 15).
    scaling_period: float = 60.0
    scaling_out_datapoints: int = 3
    scaling_in_datapoints: int = 15
    # Drift monitoring (ADR 0041): seconds between passes over the captured traffic, and
    # the window of traffic each pass reads (None: one period).
    monitor_period: float = 3600.0
    monitor_window: float | None = None

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.data_dir / 'turnout.db'}"

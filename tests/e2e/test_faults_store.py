"""The store becomes unavailable: PostgreSQL stopped for 10 s under load (ADR 0033).

The server runs on a PostgreSQL of the test's own (tests/support/own_postgres.py: never
the shared one), stopped with `pg_ctl stop -m immediate` while a load generator invokes
the endpoint without pause. Expected:

- the data plane serves from its routing snapshot: not one invocation fails;
- control-plane calls answer at once with 503 ServiceUnavailable saying the store is
  unavailable (boto3 DescribeEndpoint and CreateModel, CloudWatch DescribeAlarms, REST GET
  /api/v1/endpoints, the dashboard's JSON), never a 500 and never a hang (each call
  bounded by the client's read timeout);
- when the database is back, without restarting turnout: control-plane calls work, the
  node reports again, the controller (whose 3 s lease lapsed meanwhile) leads again and
  applies a weight change, and the invocations counted during the outage are all in the
  store (the metrics flusher kept its rollups pending and wrote them later).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
import sqlalchemy as sa
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import Artifacts
from tests.support.endpoints import VariantOf, deploy_endpoint, poll_until
from tests.support.load import LoadProcess
from tests.support.models import make_tarball
from tests.support.own_postgres import own_postgres
from turnout.cli.background import BackgroundServer
from turnout.client import Client
from turnout.store.engine import normalize_url
from turnout.store.schema import rollups

pytestmark = pytest.mark.e2e

NAME = "steady"
OUTAGE_S = 10.0
ROLE = "arn:aws:iam::123456789012:role/turnout"
# One attempt (botocore would retry a 503 on its own); a call that hangs fails the test.
BOTO = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=20)


def sagemaker(url: str) -> Any:
    return boto3.client(
        "sagemaker", endpoint_url=url, region_name="us-east-1", aws_access_key_id="k",
        aws_secret_access_key="s", config=BOTO,
    )  # fmt: skip


def cloudwatch(url: str) -> Any:
    return boto3.client(
        "cloudwatch", endpoint_url=url, region_name="us-east-1", aws_access_key_id="k",
        aws_secret_access_key="s", config=BOTO,
    )  # fmt: skip


def assert_unavailable(call: Any, **params: Any) -> None:
    with pytest.raises(ClientError) as caught:
        call(**params)
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 503, response
    assert response["Error"]["Code"] == "ServiceUnavailable", response
    assert "store is unavailable" in response["Error"]["Message"], response


def stored_invocations(url: str) -> int:
    """The invocations the store's rollups hold (not the API's view, which adds this
    process's unwritten counts)."""
    engine = sa.create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            query = sa.select(sa.func.coalesce(sa.func.sum(rollups.c.invocations), 0))
            return int(conn.execute(query.where(rollups.c.endpoint == NAME)).scalar_one())
    finally:
        engine.dispose()


def test_the_data_plane_serves_through_a_store_outage_and_the_control_plane_says_503(
    artifacts: Artifacts, tmp_path: Path
) -> None:
    tarball = make_tarball(artifacts.sklearn, tmp_path / "model.tar.gz")
    with own_postgres() as postgres:
        args = ("--db", postgres.url, "--lease-seconds", "3")
        with (
            BackgroundServer(tmp_path / "serve", extra_args=args) as server,
            Client(server.url, timeout=20) as client,
        ):
            variants = [VariantOf("A", artifacts.sklearn), VariantOf("B", artifacts.sklearn)]
            deploy_endpoint(client, NAME, variants)
            sm = sagemaker(server.url)
            load = LoadProcess(
                tmp_path / "load.json", server.url, NAME,
                concurrency=2, duration=180, requests=200_000, timeout=20,
            ).start()  # fmt: skip
            try:
                load.wait_for(50)
                postgres.stop()
                down_at = time.monotonic()
                try:
                    assert_unavailable(sm.describe_endpoint, EndpointName=NAME)
                    assert_unavailable(
                        sm.create_model, ModelName="during-outage", ExecutionRoleArn=ROLE,
                        PrimaryContainer={"Image": "x", "ModelDataUrl": tarball.as_uri()},
                    )  # fmt: skip
                    with httpx.Client(base_url=server.url, timeout=20) as http:
                        for path in ("/api/v1/endpoints", "/dashboard/api/overview"):
                            answer = http.get(path)
                            assert answer.status_code == 503, (path, answer.text)
                            error = answer.json()["error"]
                            assert error["code"] == "ServiceUnavailable", (path, error)
                    assert_unavailable(cloudwatch(server.url).describe_alarms)
                    # Prometheus still scrapes: the router's counters, and the store down.
                    with httpx.Client(base_url=server.url, timeout=20) as http:
                        for _ in range(2):
                            scrape = http.get("/metrics")
                            assert scrape.status_code == 200, scrape.text
                            assert "turnout_store_up 0.0" in scrape.text
                            assert "turnout_invocations_total{" in scrape.text
                    served = load.snapshot().ok
                    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
                    assert load.snapshot().ok > served, "no invocation served during the outage"
                finally:
                    postgres.start()
                # Back, without restarting turnout.
                poll_until(
                    lambda: _works(sm), lambda ok: ok, 30, "the control plane to answer again"
                )
                sm.create_model(
                    ModelName="after-outage", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": "x", "ModelDataUrl": tarball.as_uri()},
                )  # fmt: skip
                load.wait_for(load.snapshot().total + 50)
            finally:
                result = load.stop()
            assert result.failed == 0, result.describe()
            # One line said the outage began, however often /metrics was scraped; no traceback.
            log = server.log_path.read_text(errors="replace")
            assert log.count("/metrics: the store is unavailable") == 1, log[-3000:]
            assert "Traceback" not in log, log[-3000:]
            assert "turnout_store_up 1.0" in httpx.get(f"{server.url}/metrics").text

            # The controller leads again and acts; this node reports again.
            client.update_traffic(NAME, {"A": 3.0, "B": 1.0})
            endpoint = client.wait_for_endpoint(NAME, timeout=60)
            assert {v["name"]: v["current_weight"] for v in endpoint["variants"]} == {
                "A": 3.0,
                "B": 1.0,
            }
            nodes = client.nodes()
            assert nodes["controller"] is not None
            assert [n["alive"] for n in nodes["nodes"]] == [True]
            # Every invocation, those of the outage included, is counted in the store: the
            # flusher kept the rollups it could not write and wrote them once it could.
            counted = poll_until(
                lambda: stored_invocations(postgres.url),
                lambda n: n >= result.ok,
                40,
                "every invocation in the store",
            )
            assert counted == result.ok


def _works(sm: Any) -> bool:
    try:
        sm.describe_endpoint(EndpointName=NAME)
    except ClientError as err:
        assert err.response["Error"]["Code"] == "ServiceUnavailable", err.response
        return False
    return True

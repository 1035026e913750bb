"""CloudWatch Logs through a real boto3 "logs" client against `turnout serve`: an endpoint
whose inference.py prints in predict_fn, its instance's startup lines and that print found
by FilterLogEvents, paging that ends."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.api.sagemaker.conftest import CONFIG, REGION, clients
from tests.api.sagemaker.test_lifecycle import FAST, variant
from tests.support.models import PREDICT_LINE, digits_rows, make_sklearn_model, make_source_dir
from turnout.cli.background import BackgroundServer

pytestmark = pytest.mark.e2e

ENDPOINT = "logged"
GROUP = f"/aws/sagemaker/Endpoints/{ENDPOINT}"
CALLS = 3


def logs_client(url: str) -> Any:
    from tests.api.sagemaker.conftest import ACCESS_KEY, SECRET_KEY

    return boto3.client("logs", endpoint_url=url, region_name=REGION, config=CONFIG,
                        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)  # fmt: skip


@pytest.fixture(scope="module")
def logs(server: BackgroundServer, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The logs client, once an endpoint in script mode has answered CALLS invocations."""
    root = tmp_path_factory.mktemp("logged")
    sm, rt = clients(server.url)
    environment = {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": make_source_dir(root / "src").as_uri(),
    }
    sm.create_model(ModelName=ENDPOINT, PrimaryContainer={
        "ModelDataUrl": make_sklearn_model(root / "model").as_uri(), "Environment": environment,
    })  # fmt: skip
    sm.create_endpoint_config(
        EndpointConfigName=ENDPOINT, ProductionVariants=[variant("A", ENDPOINT, 1)]
    )
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=ENDPOINT)
    sm.get_waiter("endpoint_in_service").wait(EndpointName=ENDPOINT, WaiterConfig=FAST)
    rows, _ = digits_rows(2)
    for _ in range(CALLS):
        rt.invoke_endpoint(EndpointName=ENDPOINT, ContentType="application/json",
                           Body=json.dumps(rows))  # fmt: skip
    client = logs_client(server.url)
    deadline = time.monotonic() + 30  # the print travels pipe -> log file
    while time.monotonic() < deadline:
        found = client.filter_log_events(logGroupName=GROUP, filterPattern=f'"{PREDICT_LINE}"')
        if len(found["events"]) >= CALLS:
            break
        time.sleep(0.2)
    return client


def all_events(logs: Any, **params: Any) -> list[dict[str, Any]]:
    """Every page of FilterLogEvents, through boto3's paginator (which loops on nextToken)."""
    paginator = logs.get_paginator("filter_log_events")
    pages = paginator.paginate(logGroupName=GROUP, **params, PaginationConfig={"MaxItems": 1000})
    return [event for page in pages for event in page["events"]]


def test_the_group_and_the_instances_stream_are_listed(logs: Any) -> None:
    groups = logs.describe_log_groups(logGroupNamePrefix="/aws/sagemaker/Endpoints/")
    assert [g["logGroupName"] for g in groups["logGroups"]] == [GROUP]
    streams = logs.describe_log_streams(logGroupName=GROUP)["logStreams"]
    assert [s["logStreamName"] for s in streams] == [f"A/{ENDPOINT}-1"]  # variant/fleet-index
    stream = streams[0]
    assert stream["firstEventTimestamp"] <= stream["lastEventTimestamp"]
    assert stream["lastEventTimestamp"] <= time.time() * 1000 + 1000


def test_startup_lines_and_prints_from_predict_fn_are_events(logs: Any) -> None:
    events = all_events(logs)
    messages = [e["message"] for e in events]
    assert any(m.startswith("turnout worker: loaded the inference model") for m in messages)
    assert any(m.startswith("turnout worker: serving /ping") for m in messages)
    assert sum(m.startswith(PREDICT_LINE) for m in messages) == CALLS
    assert {e["logStreamName"] for e in events} == {f"A/{ENDPOINT}-1"}
    times = [e["timestamp"] for e in events]
    assert times == sorted(times)
    assert abs(times[-1] - time.time() * 1000) < 10 * 60 * 1000  # stamped now, not at 0


def test_a_filter_pattern_picks_the_lines(logs: Any) -> None:
    printed = all_events(logs, filterPattern=f'"{PREDICT_LINE}"')
    assert [e["message"] for e in printed] == [f"{PREDICT_LINE} 2"] * CALLS
    either = all_events(logs, filterPattern=f'?"{PREDICT_LINE}" ?serving')
    assert len(either) == CALLS + 1
    assert all_events(logs, filterPattern=f'"{PREDICT_LINE}" -predicting') == []


def test_paging_one_event_at_a_time_ends_with_every_event(logs: Any) -> None:
    everything = all_events(logs)
    pages = 0
    seen: list[str] = []
    params: dict[str, Any] = {"logGroupName": GROUP, "limit": 1}
    while pages <= len(everything) + 1:
        page = logs.filter_log_events(**params)
        pages += 1
        seen += [e["message"] for e in page["events"]]
        if "nextToken" not in page:
            break
        params["nextToken"] = page["nextToken"]
    assert seen == [e["message"] for e in everything]
    assert pages <= len(everything) + 1


def test_get_log_events_pages_forward_until_the_token_repeats(logs: Any) -> None:
    stream = f"A/{ENDPOINT}-1"
    last = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, limit=2)
    assert [e["message"] for e in last["events"]][-1].startswith(PREDICT_LINE)
    params: dict[str, Any] = {"logGroupName": GROUP, "logStreamName": stream,
                              "startFromHead": True, "limit": 2}  # fmt: skip
    seen: list[str] = []
    for _ in range(100):
        page = logs.get_log_events(**params)
        seen += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == params.get("nextToken"):
            break
        params["nextToken"] = page["nextForwardToken"]
    else:
        pytest.fail("GetLogEvents never returned the token it was given")
    assert seen == [e["message"] for e in all_events(logs)]


def test_a_time_range_with_no_events_is_empty(logs: Any) -> None:
    future = int(time.time() * 1000) + 3_600_000
    assert all_events(logs, startTime=future) == []
    with pytest.raises(ClientError) as caught:
        logs.filter_log_events(logGroupName=GROUP, startTime=future, endTime=future - 1)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterException"


@pytest.mark.parametrize(
    "group",
    ["/aws/sagemaker/Endpoints/absent", "/aws/lambda/logged", "/aws/sagemaker/Endpoints/../x"],
)
def test_other_groups_are_not_found(logs: Any, group: str) -> None:
    for call in (
        lambda: logs.filter_log_events(logGroupName=group),
        lambda: logs.describe_log_streams(logGroupName=group),
        lambda: logs.get_log_events(logGroupName=group, logStreamName="A/x-0"),
    ):
        with pytest.raises(logs.exceptions.ResourceNotFoundException) as caught:
            call()
        assert (
            caught.value.response["Error"]["Message"] == "The specified log group does not exist."
        )


def test_an_unknown_stream_is_not_found(logs: Any) -> None:
    with pytest.raises(logs.exceptions.ResourceNotFoundException) as caught:
        logs.get_log_events(logGroupName=GROUP, logStreamName="B/other-0")
    assert caught.value.response["Error"]["Message"] == "The specified log stream does not exist."


def test_unsupported_patterns_are_invalid_parameters(logs: Any) -> None:
    with pytest.raises(logs.exceptions.InvalidParameterException) as caught:
        logs.filter_log_events(logGroupName=GROUP, filterPattern='{ $.level = "ERROR" }')
    assert "terms only" in caught.value.response["Error"]["Message"]

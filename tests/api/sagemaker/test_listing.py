"""List* pagination, filters and sort orders, and tags, through boto3."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import arn
from .test_lifecycle import variant

pytestmark = pytest.mark.e2e

NAMES = ["pg-c", "pg-a", "pg-e", "pg-b", "pg-d"]  # created in this order


@pytest.fixture(scope="module")
def listed(sm: Any) -> float:
    """Models and configs named NAMES (plus one other model); a time between the 2nd and 3rd."""
    sm.create_model(ModelName="other", PrimaryContainer={"ModelDataUrl": "/nowhere"})
    for name in NAMES:
        sm.create_model(ModelName=name, PrimaryContainer={"ModelDataUrl": "/nowhere"})
        sm.create_endpoint_config(
            EndpointConfigName=name, ProductionVariants=[variant("A", name, 1)]
        )
        time.sleep(0.02)  # distinct creation times
    times = [sm.describe_model(ModelName=n)["CreationTime"].timestamp() for n in NAMES[1:3]]
    return sum(times) / 2


def test_the_paginators_walk_every_page(sm: Any, listed: float) -> None:
    pages = list(
        sm.get_paginator("list_models").paginate(
            NameContains="pg-",
            SortBy="Name",
            SortOrder="Ascending",
            PaginationConfig={"PageSize": 2},
        )
    )
    assert [len(p["Models"]) for p in pages] == [2, 2, 1]
    assert [m["ModelName"] for p in pages for m in p["Models"]] == sorted(NAMES)
    assert pages[0]["Models"][0]["ModelArn"] == arn("model", "pg-a")
    configs = [
        c["EndpointConfigName"]
        for p in sm.get_paginator("list_endpoint_configs").paginate(
            NameContains="PG", PaginationConfig={"PageSize": 3}
        )
        for c in p["EndpointConfigs"]
    ]
    assert configs == list(reversed(NAMES))  # default: CreationTime, Descending


def test_next_token_and_max_results(sm: Any, listed: float) -> None:
    first = sm.list_models(MaxResults=2, SortBy="CreationTime", SortOrder="Ascending")
    assert [m["ModelName"] for m in first["Models"]] == ["other", "pg-c"]
    second = sm.list_models(
        MaxResults=2, SortBy="CreationTime", SortOrder="Ascending", NextToken=first["NextToken"]
    )
    assert [m["ModelName"] for m in second["Models"]] == ["pg-a", "pg-e"]
    with pytest.raises(ClientError) as raised:
        sm.list_models(NextToken=first["NextToken"])  # made for another order
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_creation_time_filters(sm: Any, listed: float) -> None:
    before = sm.list_models(NameContains="pg", CreationTimeBefore=listed, SortOrder="Ascending")
    assert [m["ModelName"] for m in before["Models"]] == ["pg-c", "pg-a"]
    times = [
        sm.describe_endpoint_config(EndpointConfigName=n)["CreationTime"].timestamp()
        for n in NAMES[2:4]
    ]
    after = sm.list_endpoint_configs(CreationTimeAfter=sum(times) / 2, SortOrder="Ascending")
    assert [c["EndpointConfigName"] for c in after["EndpointConfigs"]] == ["pg-b", "pg-d"]


def test_list_endpoints_filters_on_status(sm: Any, listed: float) -> None:
    sm.create_endpoint(EndpointName="pg-ep", EndpointConfigName="pg-a")  # "/nowhere": fails
    for _ in range(240):
        if sm.describe_endpoint(EndpointName="pg-ep")["EndpointStatus"] == "Failed":
            break
        time.sleep(0.25)
    failed = sm.list_endpoints(StatusEquals="Failed", NameContains="pg")["Endpoints"]
    assert [e["EndpointName"] for e in failed] == ["pg-ep"]
    assert failed[0]["EndpointArn"] == arn("endpoint", "pg-ep")
    assert sm.list_endpoints(StatusEquals="InService", NameContains="pg")["Endpoints"] == []
    sm.delete_endpoint(EndpointName="pg-ep")


def test_tags_on_every_resource(sm: Any, listed: float) -> None:
    sm.create_model(
        ModelName="tagged",
        PrimaryContainer={"ModelDataUrl": "/nowhere"},
        Tags=[{"Key": "team", "Value": "ml"}],
    )
    for resource, name in (("model", "tagged"), ("endpoint-config", "pg-a")):
        resource_arn = arn(resource, name)
        added = sm.add_tags(
            ResourceArn=resource_arn,
            Tags=[{"Key": "stage", "Value": "dev"}, {"Key": "owner", "Value": "ana"}],
        )
        assert added["Tags"] == [{"Key": "stage", "Value": "dev"}, {"Key": "owner", "Value": "ana"}]
        sm.delete_tags(ResourceArn=resource_arn, TagKeys=["owner"])
        tags = sm.list_tags(ResourceArn=resource_arn)["Tags"]
        expected = [{"Key": "stage", "Value": "dev"}]
        assert tags == ([{"Key": "team", "Value": "ml"}] if name == "tagged" else []) + expected
    with pytest.raises(ClientError) as raised:
        sm.list_tags(ResourceArn=arn("endpoint", "nope"))
    assert raised.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": f'Could not find endpoint "{arn("endpoint", "nope")}".',
    }
    with pytest.raises(ClientError) as raised:
        sm.add_tags(
            ResourceArn=arn("model", "tagged"),
            Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)],
        )
    assert "at most 50" in raised.value.response["Error"]["Message"]
    sm.delete_model(ModelName="tagged")
    sm.create_model(ModelName="tagged", PrimaryContainer={"ModelDataUrl": "/nowhere"})
    assert sm.list_tags(ResourceArn=arn("model", "tagged"))["Tags"] == []

"""The router relays SageMaker's runtime headers both ways: Content-Type and Accept reach
the model (codecs negotiate through the router), custom attributes go there and back."""

from __future__ import annotations

import io
import json

import httpx
import numpy as np
import pytest

from tests.conftest import Artifacts, Deploy
from tests.support.endpoints import VariantOf
from tests.support.models import digits_rows, npy_bytes
from turnout.cli.background import BackgroundServer

pytestmark = pytest.mark.e2e

ROWS, LABELS = digits_rows(3)


@pytest.fixture(scope="module")
def url(server: BackgroundServer, deploy: Deploy, artifacts: Artifacts) -> str:
    deploy("headers", [VariantOf("A", artifacts.sklearn), VariantOf("F", artifacts.faulty)])
    return f"{server.url}/endpoints/headers/invocations"


def test_custom_attributes_reach_the_model_and_come_back(url: str):
    response = httpx.post(
        url,
        content=json.dumps({"echo_attributes": True}),
        headers={
            "Content-Type": "application/json",
            "X-Amzn-SageMaker-Target-Variant": "F",
            "X-Amzn-SageMaker-Custom-Attributes": "trace-id=42, tenant=blue",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"custom_attributes": "trace-id=42, tenant=blue"}
    assert response.headers["X-Amzn-SageMaker-Custom-Attributes"] == "trace-id=42, tenant=blue"


def test_no_custom_attributes_header_unless_the_model_sets_one(url: str):
    response = httpx.post(
        url,
        content=json.dumps(ROWS),
        headers={"Content-Type": "application/json", "X-Amzn-SageMaker-Target-Variant": "A"},
    )
    assert response.status_code == 200
    assert "X-Amzn-SageMaker-Custom-Attributes" not in response.headers


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", json.dumps(ROWS).encode()),
        ("text/csv", "\n".join(",".join(map(str, row)) for row in ROWS).encode()),
        ("application/x-npy", npy_bytes(np.asarray(ROWS))),
    ],
    ids=["json", "csv", "npy"],
)
@pytest.mark.parametrize("accept", ["application/json", "text/csv", "application/x-npy"])
def test_content_type_and_accept_pass_through(
    url: str, content_type: str, body: bytes, accept: str
):
    response = httpx.post(
        url,
        content=body,
        headers={
            "Content-Type": content_type,
            "Accept": accept,
            "X-Amzn-SageMaker-Target-Variant": "A",
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(accept)
    if accept == "application/json":
        labels = response.json()
    elif accept == "text/csv":
        labels = [int(line) for line in response.text.split()]
    else:
        labels = np.load(io.BytesIO(response.content), allow_pickle=False).tolist()
    assert labels == LABELS

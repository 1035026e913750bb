"""The switch (ADR 0040) through a real `turnout serve`, all created with boto3: a routing
endpoint in front of two single-model endpoints keeps 1,000 users on their endpoint across
calls and across a 10% → 50% ramp (monotone), its `preprocess` adds the feature the models
need, its `route` sends a header's users elsewhere, its `postprocess` reshapes the answer,
and a switch in front of a switch is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import joblib
import numpy as np
import pytest
from botocore.exceptions import ClientError
from scipy.stats import binom
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from tests.api.sagemaker.conftest import clients
from tests.support.users import ROW, assign_users
from turnout.cli.background import BackgroundServer
from turnout.client import Client

pytestmark = pytest.mark.e2e

USERS = 1000
SWITCH_CODE = """
import dataclasses, json

def preprocess(request):
    row = json.loads(request.body)
    return dataclasses.replace(request, body=json.dumps(row + [1.0]).encode())

def route(request, variants):
    return "beta" if request.headers.get("x-tier") == "gold" else None

def postprocess(request, answer):
    label = json.loads(answer.body)[0]
    body = json.dumps({"label": label, "endpoint": answer.endpoint}).encode()
    return dataclasses.replace(answer, body=body, content_type="application/json")
"""


def _model(dest: Path, seed: int) -> Path:
    """A LogisticRegression on the 64 digit features plus one the switch adds (65)."""
    digits = load_digits()
    x = np.hstack([digits.data, np.ones((len(digits.data), 1))])
    dest.mkdir(parents=True)
    model = LogisticRegression(max_iter=200, random_state=seed).fit(x, digits.target)
    joblib.dump(model, dest / "model.joblib")
    return dest


def _endpoint(sm: Any, name: str, variants: dict[str, tuple[dict[str, Any], float]]) -> None:
    for variant, (container, _) in variants.items():
        sm.create_model(ModelName=f"{name}-{variant}", PrimaryContainer=container)
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": v, "ModelName": f"{name}-{v}", "InitialInstanceCount": 1,
             "InstanceType": "ml.m5.large", "InitialVariantWeight": w}
            for v, (_, w) in variants.items()
        ],
    )  # fmt: skip
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)


@pytest.fixture(scope="module")
def front(server: BackgroundServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Endpoints alpha and beta (one model each) and the switch `front` over them at 90/10."""
    root = tmp_path_factory.mktemp("switch")
    sm = clients(server.url)[0]
    for name, seed in (("alpha", 0), ("beta", 1)):
        artifact = _model(root / name, seed).as_uri()
        _endpoint(sm, name, {"main": ({"ModelDataUrl": artifact}, 1.0)})
    (root / "switch" / "code").mkdir(parents=True)
    (root / "switch" / "code" / "switch.py").write_text(SWITCH_CODE)
    code = (root / "switch").as_uri()
    _endpoint(
        sm,
        "front",
        {
            t: ({"ModelDataUrl": code, "Environment": {"TURNOUT_ROUTE_TO": t}}, w)
            for t, w in (("alpha", 0.9), ("beta", 0.1))
        },
    )
    with Client(server.url, timeout=30) as client:
        for name in ("alpha", "beta", "front"):
            client.wait_for_endpoint(name, timeout=120)
    return "front"


def test_users_keep_their_endpoint_across_a_ramp_and_the_hooks_run(
    server: BackgroundServer, front: str, tmp_path: Path
) -> None:
    sm, runtime = clients(server.url)
    # The models need 65 features and the request has 64: alone they refuse it...
    with pytest.raises(ClientError) as refused:
        runtime.invoke_endpoint(EndpointName="alpha", Body=ROW, ContentType="application/json")
    assert refused.value.response["Error"]["Code"] == "ModelError"
    # ...through the switch, preprocess adds the 65th and postprocess reshapes the answer.
    answer = runtime.invoke_endpoint(
        EndpointName=front, Body=ROW, ContentType="application/json",
        CustomAttributes="a=1",
    )  # fmt: skip
    headers = answer["ResponseMetadata"]["HTTPHeaders"]
    variant = answer["InvokedProductionVariant"]
    assert headers["x-turnout-target-endpoint"] == variant  # each variant routes to its namesake
    assert headers["x-turnout-target-variant"] == "main"
    body = json.loads(answer["Body"].read())
    assert set(body) == {"label", "endpoint"} and body["endpoint"] == variant

    def ramp_to(share: float) -> list[str]:
        sm.update_endpoint_weights_and_capacities(
            EndpointName=front,
            DesiredWeightsAndCapacities=[
                {"VariantName": "alpha", "DesiredWeight": 1 - share},
                {"VariantName": "beta", "DesiredWeight": share},
            ],
        )
        with Client(server.url, timeout=30) as client:
            client.wait_for_endpoint(front, timeout=60)
        first = assign_users(server.url, front, tmp_path / "a.json", USERS)
        again = assign_users(server.url, front, tmp_path / "b.json", USERS)
        assert first == again, "a user changed endpoint without any weight change"
        low, high = binom.interval(0.999, USERS, share)
        assert low <= first.count("beta") <= high, f"{first.count('beta')} in beta at {share}"
        answers = json.loads((tmp_path / "b.json").read_text())["answers"]
        assert all(json.loads(a)["endpoint"] == v for a, v in zip(answers, again, strict=True))
        return first

    at_10 = ramp_to(0.1)
    at_50 = ramp_to(0.5)
    moved_out = sum(b == "beta" and a != "beta" for b, a in zip(at_10, at_50, strict=True))
    moved_in = sum(b == "alpha" and a == "beta" for b, a in zip(at_10, at_50, strict=True))
    assert moved_out == 0, f"{moved_out} users went back from beta to alpha"
    assert moved_in == at_50.count("beta") - at_10.count("beta") > 0
    # route() overrides the sticky choice: an alpha user with the gold header goes to beta.
    user = f"user-{at_50.index('alpha')}"
    url = f"{server.url}/endpoints/{front}/invocations"
    for tier, expected in (("gold", "beta"), ("basic", "alpha")):
        headers = {"X-Turnout-User": user, "X-Tier": tier, "Content-Type": "application/json"}
        routed = httpx.post(url, content=ROW, headers=headers, timeout=30)
        assert routed.headers["x-amzn-invoked-production-variant"] == expected, routed.text


def test_a_switch_in_front_of_a_switch_is_refused(server: BackgroundServer, front: str) -> None:
    sm, runtime = clients(server.url)
    _endpoint(
        sm, "chain", {"front": ({"Environment": {"TURNOUT_ROUTE_TO": front}}, 1.0)}
    )  # no ModelDataUrl: a switch without hooks
    with Client(server.url, timeout=30) as client:
        client.wait_for_endpoint("chain", timeout=60)
    with pytest.raises(ClientError) as refused:
        runtime.invoke_endpoint(EndpointName="chain", Body=ROW, ContentType="application/json")
    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationError" and "itself a switch" in error["Message"]

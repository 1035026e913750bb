"""Every error case of issue 3, as boto3 surfaces it: exception class, code and message."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError, WaiterError

from turnout.cli.background import BackgroundServer

from .conftest import ACCOUNT, Tarballs, arn
from .test_lifecycle import FAST, variant

pytestmark = pytest.mark.e2e

CONFIG_WORD = "endpoint configuration"


def error_of(call: Any, **params: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as raised:
        call(**params)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 424)
    return dict(raised.value.response["Error"])


def validation(message: str) -> dict[str, str]:
    return {"Code": "ValidationException", "Message": message}


@pytest.fixture(scope="module")
def deployed(sm: Any, tarballs: Tarballs) -> str:
    """An InService endpoint "errs" with variant "A" of model "errs-m"."""
    sm.create_model(ModelName="errs-m", PrimaryContainer={"ModelDataUrl": tarballs.url("sklearn")})
    sm.create_endpoint_config(
        EndpointConfigName="errs-c", ProductionVariants=[variant("A", "errs-m", 1)]
    )
    sm.create_endpoint(EndpointName="errs", EndpointConfigName="errs-c")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="errs", WaiterConfig=FAST)
    return "errs"


def test_missing_resources_are_validation_exceptions_with_the_arn(sm: Any) -> None:
    missing = {
        sm.describe_endpoint: ("EndpointName", "endpoint", "endpoint"),
        sm.delete_endpoint: ("EndpointName", "endpoint", "endpoint"),
        sm.describe_model: ("ModelName", "model", "model"),
        sm.delete_model: ("ModelName", "model", "model"),
        sm.describe_endpoint_config: ("EndpointConfigName", "endpoint-config", CONFIG_WORD),
        sm.delete_endpoint_config: ("EndpointConfigName", "endpoint-config", CONFIG_WORD),
    }  # fmt: skip
    for call, (member, resource, word) in missing.items():
        assert error_of(call, **{member: "nope"}) == validation(
            f'Could not find {word} "{arn(resource, "nope")}".'
        )


def test_references_to_missing_resources(sm: Any, deployed: str) -> None:
    assert error_of(
        sm.create_endpoint_config,
        EndpointConfigName="refs",
        ProductionVariants=[variant("A", "no-model", 1)],
    ) == validation(f'Could not find model "{arn("model", "no-model")}".')
    message = f'Could not find endpoint configuration "{arn("endpoint-config", "no-config")}".'
    assert error_of(
        sm.create_endpoint, EndpointName="refs", EndpointConfigName="no-config"
    ) == validation(message)
    assert error_of(
        sm.update_endpoint, EndpointName=deployed, EndpointConfigName="no-config"
    ) == validation(message)


def test_duplicates(sm: Any, deployed: str) -> None:
    assert error_of(
        sm.create_model, ModelName="errs-m", PrimaryContainer={"ModelDataUrl": "/x"}
    ) == validation(f'Cannot create already existing model "{arn("model", "errs-m")}".')
    assert error_of(
        sm.create_endpoint_config,
        EndpointConfigName="errs-c",
        ProductionVariants=[variant("A", "errs-m", 1)],
    ) == validation(
        f'Cannot create already existing {CONFIG_WORD} "{arn("endpoint-config", "errs-c")}".'
    )
    assert error_of(sm.create_endpoint, EndpointName=deployed, EndpointConfigName="errs-c") == (
        validation(f'Cannot create already existing endpoint "{arn("endpoint", deployed)}".')
    )


def test_bad_names_and_values(sm: Any) -> None:
    error = error_of(sm.describe_endpoint, EndpointName="bad_name")
    assert error["Code"] == "ValidationException"
    assert error["Message"] == (
        "1 validation error detected: Value 'bad_name' at 'endpointName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: "
        "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
    )
    error = error_of(
        sm.create_endpoint_config,
        EndpointConfigName="bad-type",
        ProductionVariants=[{**variant("A", "errs-m", 1), "InstanceType": "ml.huge.nope"}],
    )
    assert "at 'productionVariants.1.member.instanceType' failed to satisfy constraint: " \
        "Member must satisfy enum value set: [" in error["Message"]  # fmt: skip
    error = error_of(
        sm.create_endpoint_config,
        EndpointConfigName="twice",
        ProductionVariants=[variant("A", "errs-m", 1), variant("A", "errs-m", 1)],
    )
    assert error["Code"] == "ValidationException"
    assert error["Message"] == 'The variant name "A" was non-unique within the request.'


def test_serverless_config_is_validated_and_shown(sm: Any) -> None:
    serverless = {"VariantName": "S", "ModelName": "errs-m",
                  "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5}}  # fmt: skip
    sm.create_endpoint_config(EndpointConfigName="sls", ProductionVariants=[serverless])
    shown = sm.describe_endpoint_config(EndpointConfigName="sls")["ProductionVariants"][0]
    assert shown["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    assert "InstanceType" not in shown
    bad = {**serverless, "ServerlessConfig": {"MemorySizeInMB": 1500, "MaxConcurrency": 5}}
    error = error_of(sm.create_endpoint_config, EndpointConfigName="sls2", ProductionVariants=[bad])
    assert error["Code"] == "ValidationException"
    assert error["Message"] == (  # as AWS words it (recorded in moto's tests)
        "1 validation error detected: Value '1500' at 'MemorySizeInMB' failed to satisfy "
        "constraint: Member must satisfy enum value set: [1024, 2048, 3072, 4096, 5120, 6144]"
    )
    both = {**serverless, "InstanceType": "ml.m5.large"}
    error = error_of(
        sm.create_endpoint_config, EndpointConfigName="sls3", ProductionVariants=[both]
    )
    assert "ServerlessConfig excludes InstanceType" in error["Message"]


def test_weight_updates_name_unknown_and_repeated_variants(sm: Any, deployed: str) -> None:
    error = error_of(
        sm.update_endpoint_weights_and_capacities,
        EndpointName=deployed,
        DesiredWeightsAndCapacities=[{"VariantName": "Z", "DesiredWeight": 1.0}],
    )
    assert error == validation(  # as AWS words it (recorded in moto's tests)
        'The variant name(s) "Z" is/are not present within endpoint configuration "errs-c".'
    )
    error = error_of(
        sm.update_endpoint_weights_and_capacities,
        EndpointName=deployed,
        DesiredWeightsAndCapacities=[
            {"VariantName": "A", "DesiredWeight": 1.0},
            {"VariantName": "A", "DesiredWeight": 2.0},
        ],
    )
    assert error == validation('The variant name "A" was non-unique within the request.')
    assert error_of(
        sm.update_endpoint_weights_and_capacities,
        EndpointName="nope",
        DesiredWeightsAndCapacities=[{"VariantName": "A", "DesiredWeight": 1.0}],
    ) == validation(f'Could not find endpoint "{arn("endpoint", "nope")}".')


def test_updating_an_endpoint_in_progress(sm: Any, deployed: str) -> None:
    sm.create_endpoint(EndpointName="busy", EndpointConfigName="errs-c")
    assert error_of(sm.update_endpoint, EndpointName="busy", EndpointConfigName="errs-c") == (
        validation(f'Cannot update in-progress endpoint "{arn("endpoint", "busy")}".')
    )
    sm.delete_endpoint(EndpointName="busy")
    sm.get_waiter("endpoint_deleted").wait(EndpointName="busy", WaiterConfig=FAST)


def test_an_artifact_that_cannot_be_fetched_fails_the_endpoint(sm: Any, tmp_path: Any) -> None:
    missing = tmp_path / "gone" / "model.tar.gz"
    sm.create_model(ModelName="gone", PrimaryContainer={"ModelDataUrl": missing.as_uri()})
    sm.create_endpoint_config(
        EndpointConfigName="gone", ProductionVariants=[variant("A", "gone", 1)]
    )
    sm.create_endpoint(EndpointName="gone", EndpointConfigName="gone")
    with pytest.raises(WaiterError, match="terminal failure state"):
        sm.get_waiter("endpoint_in_service").wait(EndpointName="gone", WaiterConfig=FAST)
    described = sm.describe_endpoint(EndpointName="gone")
    assert described["EndpointStatus"] == "Failed"
    assert str(missing) in described["FailureReason"]
    assert "does not exist" in described["FailureReason"]
    sm.delete_endpoint(EndpointName="gone")
    sm.get_waiter("endpoint_deleted").wait(EndpointName="gone", WaiterConfig=FAST)


def test_unsupported_fields_are_refused_plainly(sm: Any) -> None:
    error = error_of(
        sm.create_model,
        ModelName="pipeline",
        Containers=[{"ModelDataUrl": "/a"}, {"ModelDataUrl": "/b"}],
        InferenceExecutionConfig={"Mode": "Direct"},
    )
    assert "Direct is not supported" in error["Message"]
    error = error_of(
        sm.create_endpoint_config,
        EndpointConfigName="explainer",
        ProductionVariants=[variant("A", "errs-m", 1)],
        ExplainerConfig={"ClarifyExplainerConfig": {"ShapConfig": {"ShapBaselineConfig": {}}}},
    )
    assert error["Message"].startswith("turnout does not support ExplainerConfig yet")


def test_unknown_operations(sm: Any, server: BackgroundServer) -> None:
    error = error_of(sm.list_training_jobs)
    assert error["Code"] == "UnknownOperationException"
    answer = httpx.post(
        server.url + "/",
        content=b"{}",
        headers={"X-Amz-Target": "SageMaker.Nope", "Content-Type": "application/x-amz-json-1.1"},
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "__type": "UnknownOperationException",
        "message": "Unknown operation SageMaker.Nope.",
    }
    garbage = httpx.post(
        server.url + "/", content=b"{not json", headers={"X-Amz-Target": "SageMaker.ListModels"}
    )
    assert garbage.status_code == 400 and garbage.json()["__type"] == "SerializationException"
    huge = httpx.post(
        server.url + "/", content=b" " * (2 * 1024 * 1024),
        headers={"X-Amz-Target": "SageMaker.ListModels"},
    )  # fmt: skip
    assert huge.status_code == 400 and "larger than" in huge.json()["message"]


def test_runtime_errors(rt: Any, sm: Any, tarballs: Tarballs, deployed: str) -> None:
    error = error_of(rt.invoke_endpoint, EndpointName="nope", Body=b"[1]")
    assert error == {
        "Code": "ValidationError",
        "Message": f"Endpoint nope of account {ACCOUNT} not found.",
    }
    error = error_of(rt.invoke_endpoint, EndpointName=deployed, Body=b"[1]", TargetVariant="Z")
    assert error["Code"] == "ValidationError"

    sm.create_model(ModelName="faulty", PrimaryContainer={"ModelDataUrl": tarballs.url("faulty")})
    sm.create_endpoint_config(
        EndpointConfigName="faulty", ProductionVariants=[variant("F", "faulty", 1)]
    )
    sm.create_endpoint(EndpointName="faulty", EndpointConfigName="faulty")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="faulty", WaiterConfig=FAST)
    with pytest.raises(rt.exceptions.ModelError) as raised:
        rt.invoke_endpoint(
            EndpointName="faulty",
            ContentType="application/json",
            Body=json.dumps({"raise": "boom on purpose"}),
        )
    response = raised.value.response
    assert response["Error"]["Code"] == "ModelError"
    assert response["OriginalStatusCode"] == 500
    assert "boom on purpose" in response["OriginalMessage"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424

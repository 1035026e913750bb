"""Request checks against botocore's real service model, in AWS's words."""

from __future__ import annotations

from typing import Any

import pytest

from turnout.api.sagemaker.errors import AwsError
from turnout.api.sagemaker.servicemodel import OPERATIONS, sagemaker
from turnout.api.sagemaker.shapes import check, without_nulls

MODEL = sagemaker()


def problem(operation: str, params: dict[str, Any]) -> AwsError:
    shape = MODEL.input_shape(operation)
    assert shape is not None
    with pytest.raises(AwsError) as raised:
        check(MODEL, shape, params)
    return raised.value


def passes(operation: str, params: dict[str, Any]) -> None:
    shape = MODEL.input_shape(operation)
    assert shape is not None
    check(MODEL, shape, params)


def test_only_the_served_operations_and_their_shapes_are_kept() -> None:
    assert set(MODEL.operations) == set(OPERATIONS)
    assert "CreateTrainingJobRequest" not in MODEL.shapes
    assert all("documentation" not in shape for shape in MODEL.shapes.values())


def test_a_missing_required_member() -> None:
    error = problem("CreateEndpoint", {"EndpointName": "e"})
    assert (error.code, error.status) == ("ValidationException", 400)
    assert error.message == (
        "1 validation error detected: Value null at 'endpointConfigName' failed to satisfy "
        "constraint: Member must not be null"
    )


def test_a_bad_name_breaks_the_pattern() -> None:
    error = problem("DescribeEndpoint", {"EndpointName": "bad_name"})
    assert error.message == (
        "1 validation error detected: Value 'bad_name' at 'endpointName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: "
        "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
    )


def test_every_problem_is_listed_with_its_path() -> None:
    error = problem(
        "CreateEndpointConfig",
        {
            "EndpointConfigName": "x" * 64,
            "ProductionVariants": [
                {"VariantName": "a", "ModelName": "m", "InstanceType": "ml.nope",
                 "InitialInstanceCount": 0},
            ],
        },
    )  # fmt: skip
    assert error.message.startswith("3 validation errors detected: ")
    expected = [
        "at 'endpointConfigName' failed to satisfy constraint: Member must have length "
        "less than or equal to 63",
        "Value 'ml.nope' at 'productionVariants.1.member.instanceType' failed to satisfy "
        "constraint: Member must satisfy enum value set: [ml.t2.medium,",
        "Value '0' at 'productionVariants.1.member.initialInstanceCount' failed to satisfy "
        "constraint: Member must have value greater than or equal to 1",
    ]
    for part in expected:
        assert part in error.message


def test_list_bounds_and_map_entries() -> None:
    error = problem("ListModels", {"MaxResults": 101})
    assert "Member must have value less than or equal to 100" in error.message
    error = problem(
        "CreateModel",
        {"ModelName": "m", "PrimaryContainer": {"Environment": {"1BAD": "x"}}},
    )
    assert "Value '1BAD' at 'primaryContainer.environment'" in error.message


def test_a_wrong_json_type_is_a_serialization_error() -> None:
    error = problem("ListModels", {"MaxResults": "ten"})
    assert error.code == "SerializationException"
    assert error.message == "Expected an integer at 'maxResults', got the string 'ten'."
    assert problem("ListModels", {"MaxResults": True}).code == "SerializationException"
    assert problem("CreateEndpoint", []).code == "SerializationException"  # type: ignore[arg-type]


def test_tags_accept_unicode_letters_and_refuse_other_symbols() -> None:
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model/m"
    passes("AddTags", {"ResourceArn": arn, "Tags": [{"Key": "équipe ML", "Value": "a+b=c@d"}]})
    error = problem("AddTags", {"ResourceArn": arn, "Tags": [{"Key": "a#b", "Value": ""}]})
    assert "at 'tags.1.member.key'" in error.message


def test_model_data_url_also_takes_local_artifacts() -> None:
    for url in ("s3://b/k/model.tar.gz", "file:///m/model.tar.gz", "/m/dir"):
        passes("CreateModel", {"ModelName": "m", "PrimaryContainer": {"ModelDataUrl": url}})
    error = problem("CreateModel", {"ModelName": "m", "PrimaryContainer": {"ModelDataUrl": "m"}})
    assert "at 'primaryContainer.modelDataUrl'" in error.message


def test_timestamps_are_epoch_numbers_or_iso_strings() -> None:
    passes("ListEndpoints", {"CreationTimeAfter": 1_700_000_000.5})
    passes("ListEndpoints", {"CreationTimeAfter": "2026-01-01T00:00:00Z"})
    assert problem("ListEndpoints", {"CreationTimeAfter": "soon"}).code == "SerializationException"


def test_unknown_members_are_ignored() -> None:
    passes("DescribeEndpoint", {"EndpointName": "e", "Whatever": [1, 2]})


def test_null_structure_members_read_as_absent_at_any_depth() -> None:
    """Found by the fuzzer (tests/fuzz): `"MaxRecords": null` reached a handler as None."""
    params = {
        "ModelName": "m",
        "ExecutionRoleArn": None,
        "PrimaryContainer": {"ModelDataUrl": "/models/m", "Image": None, "Environment": {}},
        "Tags": [{"Key": "team", "Value": "ml"}],
    }
    assert without_nulls(sagemaker(), "CreateModelInput", params) == {
        "ModelName": "m",
        "PrimaryContainer": {"ModelDataUrl": "/models/m", "Environment": {}},
        "Tags": [{"Key": "team", "Value": "ml"}],
    }
    assert without_nulls(sagemaker(), "ListModelsInput", {"MaxResults": None}) == {}

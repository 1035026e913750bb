from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from turnout.api.sagemaker import arns
from turnout.api.sagemaker.models import flavor_of
from turnout.domain.resources import Flavor

NAME = st.from_regex(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,20}", fullmatch=True)


@given(resource=st.sampled_from(arns.RESOURCES), name=NAME)
def test_build_then_parse_round_trips(resource: str, name: str) -> None:
    arn = arns.build("eu-west-1", "123456789012", resource, name)
    assert arns.parse(arn) == arns.Arn("eu-west-1", "123456789012", resource, name)


def test_the_shape_of_an_arn() -> None:
    assert arns.build("us-east-1", "123456789012", arns.ENDPOINT_CONFIG, "c") == (
        "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/c"
    )


def test_other_arns_do_not_parse() -> None:
    for arn in (
        "arn:aws:sagemaker:us-east-1:123456789012:training-job/t",
        "arn:aws:iam::123456789012:role/r",
        "arn:aws:sagemaker:us-east-1:1234:model/m",
        "model/m",
    ):
        assert arns.parse(arn) is None


def test_images_name_flavors() -> None:
    assert flavor_of("turnout/sklearn") is Flavor.SKLEARN
    assert flavor_of("localhost:5000/turnout/sklearn:1.2") is Flavor.SKLEARN
    assert flavor_of("turnout/inference@sha256:abc") is Flavor.INFERENCE
    assert flavor_of("123.dkr.ecr.us-east-1.amazonaws.com/sklearn-inference:1.2-1") is (Flavor.AUTO)
    assert flavor_of("myturnout/sklearn") is Flavor.AUTO
    assert flavor_of(None) is Flavor.AUTO

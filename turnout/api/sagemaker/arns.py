"""SageMaker ARNs: `arn:aws:sagemaker:<region>:<account>:<resource>/<name>`. Pure.

SageMaker lower-cases the name in an ARN (names are case-insensitive there); turnout
names are case-sensitive, so ARNs keep the name as given and parse back exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MODEL = "model"
ENDPOINT_CONFIG = "endpoint-config"
ENDPOINT = "endpoint"
INFERENCE_EXPERIMENT = "inference-experiment"
RESOURCES = (MODEL, ENDPOINT_CONFIG, ENDPOINT)  # those that take tags

# The store's words for each kind (turnout.errors.NotFound.kind) -> ARN resource type.
RESOURCE_OF_KIND = {"model": MODEL, "endpoint config": ENDPOINT_CONFIG, "endpoint": ENDPOINT,
                    "inference experiment": INFERENCE_EXPERIMENT}  # fmt: skip
# How SageMaker's messages name each resource type.
WORDS = {MODEL: "model", ENDPOINT_CONFIG: "endpoint configuration", ENDPOINT: "endpoint",
         INFERENCE_EXPERIMENT: "inference experiment"}  # fmt: skip

_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):sagemaker:(?P<region>[a-z0-9-]*):(?P<account>[0-9]{12}):"
    r"(?P<resource>[a-z-]+)/(?P<name>.+)"
)


@dataclass(frozen=True)
class Arn:
    region: str
    account: str
    resource: str  # one of RESOURCES
    name: str


def build(region: str, account: str, resource: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{account}:{resource}/{name}"


def parse(arn: str) -> Arn | None:
    """The parts of a SageMaker ARN of a model, endpoint config or endpoint; else None."""
    match = _ARN.fullmatch(arn)
    if match is None or match["resource"] not in RESOURCES:
        return None
    return Arn(match["region"], match["account"], match["resource"], match["name"])

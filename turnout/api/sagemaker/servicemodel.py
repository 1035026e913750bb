"""SageMaker's contract as data: botocore's service model, cut to the operations we serve.

botocore ships `sagemaker/<version>/service-2.json`, the same description boto3 builds its
client from. Loading it (~0.7 s, ~20 MB for all 400+ operations) happens once per process;
only the shapes reachable from the operations turnout serves are kept.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Shape = Mapping[str, Any]

OPERATIONS = (
    "CreateModel",
    "DescribeModel",
    "ListModels",
    "DeleteModel",
    "CreateEndpointConfig",
    "DescribeEndpointConfig",
    "ListEndpointConfigs",
    "DeleteEndpointConfig",
    "CreateEndpoint",
    "DescribeEndpoint",
    "ListEndpoints",
    "UpdateEndpoint",
    "UpdateEndpointWeightsAndCapacities",
    "DeleteEndpoint",
    "CreateInferenceExperiment",
    "DescribeInferenceExperiment",
    "ListInferenceExperiments",
    "StopInferenceExperiment",
    "AddTags",
    "ListTags",
    "DeleteTags",
)

# Where turnout accepts more than SageMaker: a model artifact may also be local.
OVERRIDES: Mapping[str, Mapping[str, Any]] = {
    "Url": {"pattern": r"(https|s3)://([^/]+)/?(.*)|file://.+|/.+"},
    # ... and so may a data capture destination (turnout.capture.destination checks more).
    "DestinationS3Uri": {"pattern": r"(https|s3)://([^/])/?(.*)|file://.+|/.+"},
}


@dataclass(frozen=True)
class ServiceModel:
    target_prefix: str  # "SageMaker": X-Amz-Target is "<prefix>.<Operation>"
    operations: Mapping[str, Shape]
    shapes: Mapping[str, Shape]

    def input_shape(self, operation: str) -> str | None:
        spec = self.operations[operation].get("input")
        return None if spec is None else str(spec["shape"])


def _reachable(shapes: Mapping[str, Shape], roots: Iterator[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        shape = shapes[name]
        todo += [shape[k]["shape"] for k in ("member", "key", "value") if k in shape]
        todo += [m["shape"] for m in shape.get("members", {}).values()]
    return seen


def prune(raw: Mapping[str, Any], operations: tuple[str, ...] = OPERATIONS) -> ServiceModel:
    """The part of a raw service model that `operations` use, with turnout's overrides."""
    ops = {name: raw["operations"][name] for name in operations}
    roots = (
        spec["shape"]
        for op in ops.values()
        for spec in (op.get("input"), op.get("output"), *op.get("errors", ()))
        if spec is not None
    )
    shapes = {name: dict(raw["shapes"][name]) for name in _reachable(raw["shapes"], roots)}
    for name, override in OVERRIDES.items():
        if name in shapes:
            shapes[name].update(override)
    for shape in shapes.values():
        shape.pop("documentation", None)  # most of the bytes; never shown
    return ServiceModel(raw["metadata"]["targetPrefix"], copy.deepcopy(ops), shapes)


@functools.cache
def sagemaker() -> ServiceModel:
    from botocore.loaders import Loader  # heavy: only when first needed

    return prune(Loader().load_service_model("sagemaker", "service-2"))

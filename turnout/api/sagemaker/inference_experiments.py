"""CreateInferenceExperiment, DescribeInferenceExperiment, ListInferenceExperiments,
StopInferenceExperiment: SageMaker's shadow tests (ADR 0021)."""

from __future__ import annotations

from typing import Any

from turnout.api.sagemaker import pagination
from turnout.api.sagemaker.arns import INFERENCE_EXPERIMENT
from turnout.api.sagemaker.context import Answer, Context, Params, without_none
from turnout.api.sagemaker.errors import validation_error
from turnout.api.sagemaker.listing import query_of
from turnout.shadow.experiments import InferenceExperiments

_SUMMARY = ("Name", "Type", "Schedule", "Status", "StatusReason", "Description",
            "CreationTime", "CompletionTime", "LastModifiedTime", "RoleArn")  # fmt: skip
_VARIANT_STATUS = {
    "Running": "InService",
    "Starting": "Creating",
    "Stopping": "Updating",
    "Created": "Creating",
    "Completed": "Deleted",
    "Cancelled": "Deleted",
}


def _service(ctx: Context) -> InferenceExperiments:
    if ctx.inference_experiments is None:
        raise validation_error("Inference experiments are not served here.")
    return ctx.inference_experiments


def create_inference_experiment(ctx: Context, params: Params) -> Answer:
    found = _service(ctx).create(params)
    return {"InferenceExperimentArn": ctx.arn(INFERENCE_EXPERIMENT, found["Name"])}


def describe_inference_experiment(ctx: Context, params: Params) -> Answer:
    document = _service(ctx).describe(params["Name"])
    status = document["Status"]
    variants = [
        without_none(
            {
                "ModelName": v["ModelName"],
                "VariantName": v["VariantName"],
                "InfrastructureConfig": v.get("InfrastructureConfig"),
                "Status": _VARIANT_STATUS.get(status, "InService"),
            }
        )
        for v in document["ModelVariants"]
    ]
    answer: dict[str, Any] = {k: document.get(k) for k in _SUMMARY}
    answer.update(
        Arn=ctx.arn(INFERENCE_EXPERIMENT, document["Name"]),
        EndpointMetadata=without_none(document["EndpointMetadata"]),
        ModelVariants=variants,
        DataStorageConfig=document.get("DataStorageConfig"),
        ShadowModeConfig=document["ShadowModeConfig"],
        KmsKey=document.get("KmsKey"),
    )
    return without_none(answer)


def list_inference_experiments(ctx: Context, params: Params) -> Answer:
    kind = params.get("Type")
    items = [
        pagination.Item(d["Name"], d["CreationTime"], d, d["LastModifiedTime"], d["Status"])
        for d in _service(ctx).list_all()
        if kind in (None, d["Type"])
    ]
    found, token = pagination.page(items, query_of(params))
    summaries = [without_none({k: d.get(k) for k in _SUMMARY}) for d in found]
    return without_none({"InferenceExperiments": summaries, "NextToken": token})


def stop_inference_experiment(ctx: Context, params: Params) -> Answer:
    found = _service(ctx).stop(
        params["Name"],
        params["ModelVariantActions"],
        params.get("DesiredState"),
        params.get("Reason"),
        params.get("DesiredModelVariants"),
    )
    return {"InferenceExperimentArn": ctx.arn(INFERENCE_EXPERIMENT, found["Name"])}

"""CreateModel, DescribeModel, ListModels, DeleteModel."""

from __future__ import annotations

from turnout.api.sagemaker import pagination
from turnout.api.sagemaker.arns import MODEL
from turnout.api.sagemaker.context import (
    Answer,
    Context,
    Params,
    refuse_unsupported,
    without_none,
)
from turnout.api.sagemaker.errors import validation_error
from turnout.api.sagemaker.listing import query_of
from turnout.api.sagemaker.tags import tag_new
from turnout.domain.resources import Model
from turnout.models import registry

_UNSUPPORTED_CONTAINER = ("ModelDataSource", "AdditionalModelDataSources", "ModelPackageName",
                          "InferenceSpecificationName", "MultiModelConfig")  # fmt: skip


def create_model(ctx: Context, params: Params) -> Answer:
    container = _the_container(params)
    refuse_unsupported(container, _UNSUPPORTED_CONTAINER, "PrimaryContainer.")
    if container.get("Mode", "SingleModel") != "SingleModel":
        raise validation_error("turnout serves one model per container: use Mode SingleModel.")
    artifact = container.get("ModelDataUrl")
    if not artifact:
        raise validation_error(
            "turnout needs PrimaryContainer.ModelDataUrl: an s3:// URL, a file:// URL or a "
            "local path of a model.tar.gz or a model directory."
        )
    name = params["ModelName"]
    model = Model(
        name=name,
        artifact=artifact,
        flavor=registry.of_image(container.get("Image")),
        environment=dict(container.get("Environment") or {}),
        image=container.get("Image"),
        execution_role_arn=params.get("ExecutionRoleArn"),
    )
    # The artifact is fetched and checked when an endpoint starts, as SageMaker does.
    ctx.control.create_model(model, check_artifact=False)
    tag_new(ctx, "model", name, params.get("Tags"))
    return {"ModelArn": ctx.arn(MODEL, name)}


def _the_container(params: Params) -> Params:
    containers = params.get("Containers") or []
    primary = params.get("PrimaryContainer")
    if primary is not None and containers:
        raise validation_error("Give PrimaryContainer or Containers, not both.")
    if len(containers) > 1:
        raise validation_error(
            "turnout serves one container per model (no inference pipelines yet): "
            f"Containers has {len(containers)}."
        )
    if primary is None and not containers:
        raise validation_error("Give PrimaryContainer (or Containers with one container).")
    return primary if primary is not None else containers[0]


def describe(ctx: Context, model: Model) -> Answer:
    container = without_none(
        {
            "Image": model.image,
            "ModelDataUrl": model.artifact,
            "Environment": dict(model.environment),
            "Mode": "SingleModel",
        }
    )
    return without_none(
        {
            "ModelName": model.name,
            "PrimaryContainer": container,
            "ExecutionRoleArn": model.execution_role_arn,
            "CreationTime": model.created_at,
            "ModelArn": ctx.arn(MODEL, model.name),
            "EnableNetworkIsolation": False,
        }
    )


def describe_model(ctx: Context, params: Params) -> Answer:
    return describe(ctx, ctx.control.describe_model(params["ModelName"]))


def list_models(ctx: Context, params: Params) -> Answer:
    items = [pagination.Item(m.name, m.created_at, m) for m in ctx.control.list_models()]
    models, token = pagination.page(items, query_of(params))
    summaries = [
        {"ModelName": m.name, "ModelArn": ctx.arn(MODEL, m.name), "CreationTime": m.created_at}
        for m in models
    ]
    return without_none({"Models": summaries, "NextToken": token})


def delete_model(ctx: Context, params: Params) -> Answer:
    ctx.control.delete_model(params["ModelName"])
    return {}

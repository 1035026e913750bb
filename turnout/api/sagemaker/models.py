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
from turnout.domain.resources import MULTI_MODEL, SINGLE_MODEL, Model
from turnout.domain.switch import route_to
from turnout.models import registry

_UNSUPPORTED_CONTAINER = ("ModelDataSource", "AdditionalModelDataSources", "ModelPackageName",
                          "InferenceSpecificationName")  # fmt: skip
# MultiModelConfig.ModelCacheSetting travels to the instances in the environment (ADR 0037).
CACHE_SETTING_VARIABLE = "TURNOUT_MODEL_CACHE_SETTING"  # = turnout.instances.worker's


def create_model(ctx: Context, params: Params) -> Answer:
    container = _the_container(params)
    refuse_unsupported(container, _UNSUPPORTED_CONTAINER, "PrimaryContainer.")
    mode = container.get("Mode", SINGLE_MODEL)
    if mode not in (SINGLE_MODEL, MULTI_MODEL):
        raise validation_error(f"Mode must be {SINGLE_MODEL} or {MULTI_MODEL}, not {mode}.")
    artifact = container.get("ModelDataUrl")
    environment = dict(container.get("Environment") or {})
    if not artifact and route_to(environment) is not None:
        artifact = ""  # a switch with no code: pure weighted/sticky routing (ADR 0040)
    elif not artifact:
        where = (
            "an s3:// prefix, a file:// URL or a local directory holding the models"
            if mode == MULTI_MODEL
            else "an s3:// URL, a file:// URL or a local path of a model.tar.gz or a model "
            "directory"
        )
        raise validation_error(f"turnout needs PrimaryContainer.ModelDataUrl: {where}.")
    cache = container.get("MultiModelConfig")
    if cache is not None:
        if mode != MULTI_MODEL:
            raise validation_error("MultiModelConfig needs Mode MultiModel.")
        setting = cache.get("ModelCacheSetting", "Enabled")
        if setting == "Disabled":
            environment[CACHE_SETTING_VARIABLE] = setting
    name = params["ModelName"]
    model = Model(
        name=name,
        artifact=artifact,
        flavor=registry.of_image(container.get("Image")),
        environment=environment,
        image=container.get("Image"),
        execution_role_arn=params.get("ExecutionRoleArn"),
        mode=mode,
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
    environment = dict(model.environment)
    cache_setting = environment.pop(CACHE_SETTING_VARIABLE, "Enabled")
    container = without_none(
        {
            "Image": model.image,
            "ModelDataUrl": model.artifact or None,  # a switch may have none
            "Environment": environment,
            "Mode": model.mode,
            "MultiModelConfig": (
                {"ModelCacheSetting": cache_setting} if model.multi_model else None
            ),
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

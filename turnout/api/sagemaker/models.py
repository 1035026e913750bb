"""CreateModel, DescribeModel, ListModels, DeleteModel."""

from __future__ import annotations

from dataclasses import replace

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
from turnout.domain.resources import (
    MAX_PIPELINE_CONTAINERS,
    MULTI_MODEL,
    SINGLE_MODEL,
    Container,
    Model,
)
from turnout.domain.switch import route_to
from turnout.models import registry
from turnout.models.flavors.command import NAME as COMMAND

_UNSUPPORTED_CONTAINER = ("ModelDataSource", "AdditionalModelDataSources", "ModelPackageName",
                          "InferenceSpecificationName")  # fmt: skip
# MultiModelConfig.ModelCacheSetting travels to the instances in the environment (ADR 0037).
CACHE_SETTING_VARIABLE = "TURNOUT_MODEL_CACHE_SETTING"  # = turnout.instances.worker's
SERIAL, DIRECT = "Serial", "Direct"  # InferenceExecutionConfig.Mode (ADR 0039)


def create_model(ctx: Context, params: Params) -> Answer:
    containers = _the_containers(params)
    _check_execution_mode(params, len(containers))  # Serial: the only mode turnout runs
    name = params["ModelName"]
    if len(containers) == 1:
        model = _single(name, containers[0], "PrimaryContainer.")
    else:
        steps = tuple(_step(c, i) for i, c in enumerate(containers))
        first = steps[0]
        model = Model(
            name=name,
            artifact=first.artifact,
            flavor=first.flavor,
            environment=first.environment,
            image=first.image,
            containers=steps,
        )
    model = replace(model, execution_role_arn=params.get("ExecutionRoleArn"))
    # The artifact is fetched and checked when an endpoint starts, as SageMaker does.
    ctx.control.create_model(model, check_artifact=False)
    tag_new(ctx, "model", name, params.get("Tags"))
    return {"ModelArn": ctx.arn(MODEL, name)}


def _single(name: str, container: Params, where: str) -> Model:
    refuse_unsupported(container, _UNSUPPORTED_CONTAINER, where)
    mode = container.get("Mode", SINGLE_MODEL)
    if mode not in (SINGLE_MODEL, MULTI_MODEL):
        raise validation_error(f"Mode must be {SINGLE_MODEL} or {MULTI_MODEL}, not {mode}.")
    artifact = container.get("ModelDataUrl")
    environment = dict(container.get("Environment") or {})
    if not artifact and route_to(environment) is not None:
        artifact = ""  # a switch with no code: pure weighted/sticky routing (ADR 0040)
    elif not artifact:
        what = (
            "an s3:// prefix, a file:// URL or a local directory holding the models"
            if mode == MULTI_MODEL
            else "an s3:// URL, a file:// URL or a local path of a model.tar.gz or a model "
            "directory"
        )
        raise validation_error(f"turnout needs {where}ModelDataUrl: {what}.")
    cache = container.get("MultiModelConfig")
    if cache is not None:
        if mode != MULTI_MODEL:
            raise validation_error("MultiModelConfig needs Mode MultiModel.")
        setting = cache.get("ModelCacheSetting", "Enabled")
        if setting == "Disabled":
            environment[CACHE_SETTING_VARIABLE] = setting
    return Model(
        name=name,
        artifact=artifact,
        flavor=registry.of_image(container.get("Image")),
        environment=environment,
        image=container.get("Image"),
        mode=mode,
    )


def _step(container: Params, index: int) -> Container:
    """Container `index` of an inference pipeline: one model each, never multi-model."""
    where = f"Containers.{index + 1}."
    if container.get("Mode", SINGLE_MODEL) != SINGLE_MODEL or "MultiModelConfig" in container:
        raise validation_error(
            f"{where}Mode: a container of an inference pipeline serves one model "
            f"(Mode {SINGLE_MODEL}); a multi-model container must be a model of its own."
        )
    model = _single("", container, where)
    if model.flavor == COMMAND:
        raise validation_error(
            f"{where}Image: a container of an inference pipeline runs in turnout's worker; "
            "the command flavor (the model's own server) cannot be a step."
        )
    return Container(
        artifact=model.artifact,
        flavor=model.flavor,
        environment=model.environment,
        image=model.image,
        hostname=container.get("ContainerHostname"),
    )


def _the_containers(params: Params) -> list[Params]:
    containers = params.get("Containers") or []
    primary = params.get("PrimaryContainer")
    if primary is not None and containers:
        raise validation_error("Give PrimaryContainer or Containers, not both.")
    if len(containers) > MAX_PIPELINE_CONTAINERS:
        raise validation_error(
            f"An inference pipeline has at most {MAX_PIPELINE_CONTAINERS} containers: "
            f"Containers has {len(containers)}."
        )
    if primary is None and not containers:
        raise validation_error("Give PrimaryContainer (or Containers with one container).")
    if primary is not None:
        return [primary]
    hostnames = [c["ContainerHostname"] for c in containers if c.get("ContainerHostname")]
    if len(set(hostnames)) < len(hostnames):
        raise validation_error("Each container's ContainerHostname must be unique.")
    return list(containers)


def _check_execution_mode(params: Params, count: int) -> None:
    config = params.get("InferenceExecutionConfig")
    if config is None:
        return
    mode = config.get("Mode")
    if mode == DIRECT:
        raise validation_error(
            "InferenceExecutionConfig.Mode Direct is not supported by turnout: use Serial "
            "(each container's answer is the next one's request)."
        )
    if mode != SERIAL:
        raise validation_error(f"InferenceExecutionConfig.Mode must be {SERIAL}, not {mode}.")
    if count < 2:
        raise validation_error("InferenceExecutionConfig needs Containers with 2 or more items.")


def _describe_container(container: Container) -> Answer:
    return without_none(
        {
            "ContainerHostname": container.hostname,
            "Image": container.image,
            "ModelDataUrl": container.artifact,
            "Environment": dict(container.environment),
            "Mode": SINGLE_MODEL,
        }
    )


def describe(ctx: Context, model: Model) -> Answer:
    if model.pipeline:
        return without_none(
            {
                "ModelName": model.name,
                "Containers": [_describe_container(c) for c in model.containers],
                "InferenceExecutionConfig": {"Mode": SERIAL},
                "ExecutionRoleArn": model.execution_role_arn,
                "CreationTime": model.created_at,
                "ModelArn": ctx.arn(MODEL, model.name),
                "EnableNetworkIsolation": False,
            }
        )
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

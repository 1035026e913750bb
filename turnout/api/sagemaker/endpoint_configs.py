"""CreateEndpointConfig, DescribeEndpointConfig, ListEndpointConfigs, DeleteEndpointConfig."""

from __future__ import annotations

from turnout.api.sagemaker import pagination
from turnout.api.sagemaker.arns import ENDPOINT_CONFIG
from turnout.api.sagemaker.async_inference import async_answer, async_config_of
from turnout.api.sagemaker.capture import config_answer, data_capture_of
from turnout.api.sagemaker.context import (
    Answer,
    Context,
    Params,
    refuse_unsupported,
    without_none,
)
from turnout.api.sagemaker.errors import validation_error
from turnout.api.sagemaker.listing import query_of
from turnout.api.sagemaker.shapes import constraint_error
from turnout.api.sagemaker.tags import tag_new
from turnout.domain.resources import EndpointConfig, ProductionVariant, ServerlessConfig

SERVERLESS_MEMORY_SIZES = (1024, 2048, 3072, 4096, 5120, 6144)
_UNSUPPORTED = ("ExplainerConfig",)
_UNSUPPORTED_VARIANT = ("InstancePools", "CoreDumpConfig", "ManagedInstanceScaling",
                        "CapacityReservationConfig", "AcceleratorPartitionLayouts")  # fmt: skip


def create_endpoint_config(ctx: Context, params: Params) -> Answer:
    refuse_unsupported(params, _UNSUPPORTED, "")
    name = params["EndpointConfigName"]
    variants = tuple(
        _variant(v, index) for index, v in enumerate(params["ProductionVariants"], start=1)
    )
    shadows = tuple(
        _variant(v, index, "ShadowProductionVariants")
        for index, v in enumerate(params.get("ShadowProductionVariants") or (), start=1)
    )
    capture = data_capture_of(params)
    config = EndpointConfig(
        name,
        variants,
        data_capture=capture,
        shadow_variants=shadows,
        async_inference=async_config_of(params.get("AsyncInferenceConfig")),
    )
    ctx.control.create_endpoint_config(config)
    tag_new(ctx, "endpoint config", name, params.get("Tags"))
    return {"EndpointConfigArn": ctx.arn(ENDPOINT_CONFIG, name)}


def _variant(spec: Params, index: int, member: str = "ProductionVariants") -> ProductionVariant:
    where = f"{member}.{index}."
    refuse_unsupported(spec, _UNSUPPORTED_VARIANT, where)
    if not spec.get("ModelName"):
        raise validation_error(f"{where}ModelName is required: the model this variant serves.")
    serverless = spec.get("ServerlessConfig")
    if serverless is None:
        if spec.get("InstanceType") is None or spec.get("InitialInstanceCount") is None:
            raise validation_error(
                f"{where}InstanceType and {where}InitialInstanceCount are required for a "
                "variant without ServerlessConfig."
            )
        return ProductionVariant(
            name=spec["VariantName"],
            model_name=spec["ModelName"],
            initial_instance_count=spec["InitialInstanceCount"],
            initial_weight=float(spec.get("InitialVariantWeight", 1.0)),
            instance_type=spec["InstanceType"],
        )
    if spec.get("InstanceType") is not None or spec.get("InitialInstanceCount") is not None:
        raise validation_error(
            f"{where}ServerlessConfig excludes InstanceType and InitialInstanceCount: "
            "give one or the other."
        )
    return ProductionVariant(
        name=spec["VariantName"],
        model_name=spec["ModelName"],
        initial_instance_count=1,  # unused: a serverless variant runs on demand (ADR 0038)
        initial_weight=float(spec.get("InitialVariantWeight", 1.0)),
        serverless=_serverless(serverless, where),
    )


def _serverless(spec: Params, where: str) -> ServerlessConfig:
    memory, concurrency = spec["MemorySizeInMB"], spec["MaxConcurrency"]
    provisioned = spec.get("ProvisionedConcurrency")
    if memory not in SERVERLESS_MEMORY_SIZES:  # SageMaker's words (the model has a range)
        raise constraint_error(
            [
                f"Value '{memory}' at 'MemorySizeInMB' failed to satisfy constraint: Member "
                f"must satisfy enum value set: {list(SERVERLESS_MEMORY_SIZES)}"
            ]
        )
    if provisioned is not None and provisioned > concurrency:
        raise validation_error(
            f"{where}ServerlessConfig.ProvisionedConcurrency ({provisioned}) must be at "
            f"most MaxConcurrency ({concurrency})."
        )
    return ServerlessConfig(memory, concurrency, provisioned)


def serverless_answer(config: ServerlessConfig | None) -> Answer | None:
    if config is None:
        return None
    return without_none(
        {
            "MemorySizeInMB": config.memory_size_mb,
            "MaxConcurrency": config.max_concurrency,
            "ProvisionedConcurrency": config.provisioned_concurrency,
        }
    )


def _variant_answer(v: ProductionVariant) -> Answer:
    return without_none(
        {
            "VariantName": v.name,
            "ModelName": v.model_name,
            "InitialInstanceCount": None if v.serverless else v.initial_instance_count,
            "InstanceType": v.instance_type,
            "InitialVariantWeight": v.initial_weight,
            "ServerlessConfig": serverless_answer(v.serverless),
        }
    )


def describe_endpoint_config(ctx: Context, params: Params) -> Answer:
    config = ctx.control.describe_endpoint_config(params["EndpointConfigName"])
    shadows = [_variant_answer(v) for v in config.shadow_variants]
    return without_none(
        {
            "EndpointConfigName": config.name,
            "EndpointConfigArn": ctx.arn(ENDPOINT_CONFIG, config.name),
            "ProductionVariants": [_variant_answer(v) for v in config.variants],
            "ShadowProductionVariants": shadows or None,
            "DataCaptureConfig": config_answer(config.data_capture),
            "AsyncInferenceConfig": async_answer(config.async_inference),
            "CreationTime": config.created_at,
            "EnableNetworkIsolation": False,
        }
    )


def list_endpoint_configs(ctx: Context, params: Params) -> Answer:
    items = [pagination.Item(c.name, c.created_at, c) for c in ctx.control.list_endpoint_configs()]
    configs, token = pagination.page(items, query_of(params))
    summaries = [
        {
            "EndpointConfigName": c.name,
            "EndpointConfigArn": ctx.arn(ENDPOINT_CONFIG, c.name),
            "CreationTime": c.created_at,
        }
        for c in configs
    ]
    return without_none({"EndpointConfigs": summaries, "NextToken": token})


def delete_endpoint_config(ctx: Context, params: Params) -> Answer:
    ctx.control.delete_endpoint_config(params["EndpointConfigName"])
    return {}

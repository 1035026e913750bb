"""CreateEndpoint, DescribeEndpoint, ListEndpoints, UpdateEndpoint,
UpdateEndpointWeightsAndCapacities, DeleteEndpoint."""

from __future__ import annotations

from turnout.api.sagemaker import pagination
from turnout.api.sagemaker.arns import ENDPOINT
from turnout.api.sagemaker.capture import summary_answer
from turnout.api.sagemaker.context import (
    Answer,
    Context,
    Params,
    refuse_unsupported,
    without_none,
)
from turnout.api.sagemaker.endpoint_configs import serverless_answer
from turnout.api.sagemaker.errors import validation_error
from turnout.api.sagemaker.listing import query_of
from turnout.api.sagemaker.tags import tag_new
from turnout.deploy.plans import DesiredVariant, initial_states
from turnout.deploy.rollout import green_share
from turnout.domain.deployments import Deployment, Phase, RolloutPolicy, policy_document, policy_of
from turnout.domain.resources import (
    Endpoint,
    EndpointStatus,
    Fleet,
    Model,
    ProductionVariant,
    VariantState,
)

S = EndpointStatus
# What each variant is doing while the endpoint is in these states (SageMaker's VariantStatus).
_VARIANT_STATUS = {S.CREATING: "Creating", S.UPDATING: "Updating", S.DELETING: "Deleting"}


def create_endpoint(ctx: Context, params: Params) -> Answer:
    refuse_unsupported(params, ("DeploymentConfig",), "")
    name = params["EndpointName"]
    ctx.control.create_endpoint(name, params["EndpointConfigName"])
    tag_new(ctx, "endpoint", name, params.get("Tags"))
    return {"EndpointArn": ctx.arn(ENDPOINT, name)}


def describe_endpoint(ctx: Context, params: Params) -> Answer:
    endpoint = ctx.control.describe_endpoint(params["EndpointName"])
    current, pending = ctx.control.endpoint_fleets(endpoint.name)
    deployment = ctx.control.latest_deployment(endpoint.name)
    in_progress = _VARIANT_STATUS.get(endpoint.status) if pending is None else None
    variants = [
        _variant_summary(state, current, endpoint, in_progress) for state in endpoint.variants
    ]
    answer: Answer = {
        "EndpointName": endpoint.name,
        "EndpointArn": ctx.arn(ENDPOINT, endpoint.name),
        "EndpointConfigName": endpoint.config_name,
        "ProductionVariants": variants,
        "ShadowProductionVariants": [
            _shadow_summary(v, current, endpoint, in_progress)
            for v in current.config.shadow_variants
        ]
        or None,
        "EndpointStatus": endpoint.status.value,
        "FailureReason": _bounded(endpoint.failure_reason),
        "DataCaptureConfig": summary_answer(ctx.control.data_capture(endpoint.name)),
        "CreationTime": endpoint.created_at,
        "LastModifiedTime": endpoint.last_modified_at,
    }
    if deployment is not None:
        config = policy_document(deployment.policy)
        config.pop("PauseOnInsufficientData", None)  # turnout's own; not in SageMaker's shape
        answer["LastDeploymentConfig"] = config
    if pending is not None:
        active = deployment if deployment is not None and not deployment.phase.finished else None
        answer["PendingDeploymentSummary"] = _pending_summary(endpoint, pending, active)
    return without_none(answer)


def _pending_summary(endpoint: Endpoint, pending: Fleet, d: Deployment | None) -> Answer:
    """The green fleet: its variants with their share of traffic and what they are doing."""
    status: Answer = {"Status": "Creating", "StartTime": endpoint.last_modified_at}
    share = 0.0
    if d is not None:
        share = green_share(d, green_ready=d.step_started_at is not None)
        status = {"Status": _green_status(d), "StartTime": d.step_started_at or d.started_at}
        if d.phase is Phase.BAKING and d.step_started_at is not None:
            status["StatusMessage"] = (
                f"Step {d.step + 1} of {len(d.steps)}: {share:.0%} of traffic, baking "
                f"{d.current.bake_s} s" + (" (paused)" if d.paused else "")
            )
    states = initial_states(pending.config)
    total = sum(s.desired_weight for s in states) or 1.0
    variants = []
    for state, variant in zip(states, pending.config.variants, strict=True):
        summary = _variant_summary(state, pending, endpoint, None)
        summary.update(
            InstanceType=variant.instance_type,
            CurrentWeight=state.desired_weight / total * share if d is not None else None,
            VariantStatus=[without_none(status)],
        )
        variants.append(without_none(summary))
    return {
        "EndpointConfigName": pending.config.name,
        "ProductionVariants": variants,
        "StartTime": d.started_at if d is not None else endpoint.last_modified_at,
    }


def _green_status(d: Deployment) -> str:
    """What the green fleet's variants are doing (SageMaker's VariantStatus)."""
    if d.phase is Phase.ROLLING_BACK:
        return "Deleting"
    # No step started: being provisioned (again, after a restart).
    return "Creating" if d.step_started_at is None else "Baking"


def _bounded(reason: str | None, limit: int = 1024) -> str | None:
    """SageMaker's FailureReason holds at most 1024 characters."""
    if reason is None or len(reason) <= limit:
        return reason
    return reason[: limit - 3] + "..."


def _variant_summary(
    state: VariantState, fleet: Fleet, endpoint: Endpoint, in_progress: str | None
) -> Answer:
    variant = fleet.config.variant(state.name)
    serverless = serverless_answer(variant.serverless if variant else None)
    return without_none(
        {
            "VariantName": state.name,
            "DeployedImages": _deployed_images(fleet.models.get(state.name)),
            "CurrentWeight": state.current_weight,
            "DesiredWeight": state.desired_weight,
            # A serverless variant has no instance count in SageMaker's answer (ADR 0038).
            "CurrentInstanceCount": None if serverless else state.current_instance_count,
            "DesiredInstanceCount": None if serverless else state.desired_instance_count,
            "VariantStatus": []
            if in_progress is None
            else [{"Status": in_progress, "StartTime": endpoint.last_modified_at}],
            "CurrentServerlessConfig": serverless if state.current_weight is not None else None,
            "DesiredServerlessConfig": serverless,
        }
    )


def _shadow_summary(
    variant: ProductionVariant, fleet: Fleet, endpoint: Endpoint, in_progress: str | None
) -> Answer:
    """A shadow variant: its weight and count are its config's (they do not change live)."""
    serving = endpoint.variants and endpoint.variants[0].current_weight is not None
    state = VariantState(
        variant.name,
        variant.initial_weight,
        variant.initial_instance_count,
        variant.initial_weight if serving else None,
        variant.initial_instance_count if serving else None,
    )
    return _variant_summary(state, fleet, endpoint, in_progress)


def _deployed_images(model: Model | None) -> list[Answer]:
    if model is None or not model.image:
        return []
    return [
        {
            "SpecifiedImage": model.image,
            "ResolvedImage": model.image,
            "ResolutionTime": model.created_at,
        }
    ]


def list_endpoints(ctx: Context, params: Params) -> Answer:
    items = [
        pagination.Item(e.name, e.created_at, e, e.last_modified_at, e.status.value)
        for e in ctx.control.list_endpoints()
    ]
    endpoints, token = pagination.page(items, query_of(params))
    summaries = [
        {
            "EndpointName": e.name,
            "EndpointArn": ctx.arn(ENDPOINT, e.name),
            "CreationTime": e.created_at,
            "LastModifiedTime": e.last_modified_at,
            "EndpointStatus": e.status.value,
        }
        for e in endpoints
    ]
    return without_none({"Endpoints": summaries, "NextToken": token})


def update_endpoint(ctx: Context, params: Params) -> Answer:
    refuse_unsupported(params, ("ExcludeRetainedVariantProperties",), "")
    if params.get("RetainAllVariantProperties"):
        raise validation_error(
            "turnout does not support RetainAllVariantProperties yet: the new config's "
            "initial weights and instance counts apply (see docs/sagemaker.md)."
        )
    name = params["EndpointName"]
    _require_updatable(ctx, name)
    # An unknown config is reported before the endpoint is touched.
    ctx.control.describe_endpoint_config(params["EndpointConfigName"])
    policy = _rollout_policy(ctx, name, params)
    ctx.control.update_endpoint(name, params["EndpointConfigName"], policy)
    return {"EndpointArn": ctx.arn(ENDPOINT, name)}


def _rollout_policy(ctx: Context, name: str, params: Params) -> RolloutPolicy | None:
    """The DeploymentConfig (or, with RetainDeploymentConfig, the last one), or None."""
    document = params.get("DeploymentConfig")
    if document is None:
        last = ctx.control.latest_deployment(name) if params.get("RetainDeploymentConfig") else None
        return None if last is None else last.policy
    refuse_unsupported(document, ("RollingUpdatePolicy",), "DeploymentConfig.")
    if document.get("BlueGreenUpdatePolicy") is None:
        raise validation_error(
            "DeploymentConfig needs a BlueGreenUpdatePolicy (turnout deploys blue/green)."
        )
    return policy_of(dict(document))


def update_endpoint_weights_and_capacities(ctx: Context, params: Params) -> Answer:
    name = params["EndpointName"]
    changes = []
    for index, spec in enumerate(params["DesiredWeightsAndCapacities"], start=1):
        refuse_unsupported(
            spec, ("ServerlessUpdateConfig",), f"DesiredWeightsAndCapacities.{index}."
        )
        weight = spec.get("DesiredWeight")
        changes.append(
            DesiredVariant(
                spec["VariantName"],
                None if weight is None else float(weight),
                spec.get("DesiredInstanceCount"),
            )
        )
    _require_updatable(ctx, name)
    ctx.control.update_endpoint_weights_and_capacities(name, changes)
    return {"EndpointArn": ctx.arn(ENDPOINT, name)}


def _require_updatable(ctx: Context, name: str) -> None:
    """SageMaker's answer for an endpoint that is not InService (the service re-checks)."""
    endpoint = ctx.control.describe_endpoint(name)
    if endpoint.status is not S.IN_SERVICE:
        raise validation_error(
            f'Cannot update in-progress endpoint "{ctx.arn(ENDPOINT, name)}".'
            if endpoint.status is not S.FAILED
            else f'Cannot update failed endpoint "{ctx.arn(ENDPOINT, name)}"; delete it and '
            "create it again."
        )


def delete_endpoint(ctx: Context, params: Params) -> Answer:
    ctx.control.delete_endpoint(params["EndpointName"])
    return {}

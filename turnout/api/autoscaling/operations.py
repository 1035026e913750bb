"""The Application Auto Scaling operations turnout serves, for SageMaker variants only
(ServiceNamespace `sagemaker`, ScalableDimension `sagemaker:variant:DesiredInstanceCount`).
Synchronous: the facade runs them in a worker thread."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from turnout.api.sagemaker.errors import AwsError, service_unavailable, validation_error
from turnout.deploy.scaling_service import POLICY, TARGET, ScalingService
from turnout.domain.scaling import (
    DIMENSION,
    NAMESPACE,
    PREDEFINED_METRIC,
    Activity,
    AdjustmentType,
    MetricSpec,
    ScalableTarget,
    ScalingPolicy,
    Step,
    StepScaling,
    Suspended,
    TargetTracking,
    parse_resource_id,
    policy_arn,
    policy_of_arn,
    target_arn,
)
from turnout.errors import InvalidRequest, NotFound, StoreUnavailable

Params = dict[str, Any]
Answer = dict[str, Any]
T = TypeVar("T")
MAX_RESULTS = 50  # DescribeScalableTargets'/Policies' default and most
MAX_ACTIVITIES = 50


@dataclass(frozen=True)
class Context:
    scaling: ScalingService
    account: str
    region: str


def not_found(message: str) -> AwsError:
    return AwsError("ObjectNotFoundException", message)


@contextmanager
def _aws_errors(params: Params, policy: str | None = None) -> Iterator[None]:
    """The service layer's errors in AWS's shapes."""
    try:
        yield
    except NotFound as exc:
        where = (
            f"service namespace: {NAMESPACE}, resource ID: {params.get('ResourceId')}, "
            f"scalable dimension: {DIMENSION}"
        )
        if exc.kind == TARGET:
            raise not_found(f"No scalable target registered for {where}") from None
        if exc.kind == POLICY:
            raise not_found(f"No scaling policy found for {where}, policy name: {policy}") from None
        raise validation_error(str(exc)) from None
    except InvalidRequest as exc:
        raise validation_error(str(exc)) from None
    except StoreUnavailable as exc:
        raise service_unavailable(str(exc)) from None


def _namespace(params: Params) -> None:
    if params["ServiceNamespace"] != NAMESPACE:
        raise validation_error(
            f"Unsupported service namespace {params['ServiceNamespace']}: turnout scales "
            f"SageMaker variants only ({NAMESPACE})."
        )
    dimension = params.get("ScalableDimension")
    if dimension is not None and dimension != DIMENSION:
        raise validation_error(
            f"Unsupported scalable dimension {dimension} for service namespace {NAMESPACE}; "
            f"use {DIMENSION}."
        )


def _resource(params: Params) -> tuple[str, str]:
    _namespace(params)
    parsed = parse_resource_id(params["ResourceId"])
    if parsed is None:
        raise validation_error(
            f"Unsupported resource ID {params['ResourceId']}: use "
            "endpoint/ENDPOINT_NAME/variant/VARIANT_NAME."
        )
    return parsed


def _page(items: Sequence[T], params: Params, most: int) -> tuple[Sequence[T], str | None]:
    token = params.get("NextToken")
    start = 0
    if token:
        if not token.isdigit() or int(token) > len(items):
            raise AwsError("InvalidNextTokenException", "The next token supplied was invalid.")
        start = int(token)
    size = params.get("MaxResults", most)
    if not 1 <= size <= most:
        raise validation_error(f"MaxResults must be from 1 to {most}.")
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def _listed(
    key: str, items: Sequence[T], params: Params, describe: Callable[[T], Answer]
) -> Answer:
    """One page of `items`, described, under `key`, with a NextToken if more follow."""
    page, token = _page(items, params, MAX_RESULTS)
    answer: Answer = {key: [describe(item) for item in page]}
    return answer | ({"NextToken": token} if token else {})


# --- scalable targets -----------------------------------------------------------------
def register_scalable_target(ctx: Context, params: Params) -> Answer:
    endpoint, variant = _resource(params)
    s = params.get("SuspendedState")
    suspended = None
    if s is not None:
        suspended = Suspended(
            bool(s.get("DynamicScalingInSuspended")),
            bool(s.get("DynamicScalingOutSuspended")),
            bool(s.get("ScheduledScalingSuspended")),
        )
    with _aws_errors(params):
        target = ctx.scaling.register_target(
            endpoint, variant, params.get("MinCapacity"), params.get("MaxCapacity"), suspended
        )
    return {"ScalableTargetARN": target_arn(ctx.region, ctx.account, target)}


def deregister_scalable_target(ctx: Context, params: Params) -> Answer:
    endpoint, variant = _resource(params)
    with _aws_errors(params):
        ctx.scaling.deregister_target(endpoint, variant)
    return {}


def describe_scalable_targets(ctx: Context, params: Params) -> Answer:
    _namespace(params)
    wanted = set(params.get("ResourceIds") or ())
    with _aws_errors(params):
        targets = [t for t in ctx.scaling.targets() if not wanted or t.resource_id in wanted]
    return _listed("ScalableTargets", targets, params, lambda t: _describe_target(ctx, t))


def _describe_target(ctx: Context, t: ScalableTarget) -> Answer:
    return {
        "ServiceNamespace": NAMESPACE,
        "ResourceId": t.resource_id,
        "ScalableDimension": DIMENSION,
        "MinCapacity": t.min_capacity,
        "MaxCapacity": t.max_capacity,
        "RoleARN": (
            f"arn:aws:iam::{ctx.account}:role/aws-service-role/sagemaker.application-autoscaling"
            ".amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
        ),
        "CreationTime": t.created_at,
        "SuspendedState": {
            "DynamicScalingInSuspended": t.suspended.scale_in,
            "DynamicScalingOutSuspended": t.suspended.scale_out,
            "ScheduledScalingSuspended": t.suspended.scheduled,
        },
        "ScalableTargetARN": target_arn(ctx.region, ctx.account, t),
    }


# --- scaling policies -----------------------------------------------------------------
def put_scaling_policy(ctx: Context, params: Params) -> Answer:
    endpoint, variant = _resource(params)
    name = params["PolicyName"]
    kind = params.get("PolicyType", "StepScaling")
    tracking = step = None
    if kind == "TargetTrackingScaling":
        config = params.get("TargetTrackingScalingPolicyConfiguration")
        if config is None:
            raise validation_error(
                "TargetTrackingScalingPolicyConfiguration is required for a TargetTrackingScaling"
                " policy."
            )
        tracking = _target_tracking(config, endpoint, variant)
    elif kind == "StepScaling":
        config = params.get("StepScalingPolicyConfiguration")
        if config is None:
            raise validation_error(
                "StepScalingPolicyConfiguration is required for a StepScaling policy."
            )
        step = _step_scaling(config)
    else:
        raise validation_error(
            f"Unsupported policy type {kind} for SageMaker; use TargetTrackingScaling or "
            "StepScaling."
        )
    policy = ScalingPolicy(name, endpoint, variant, 0.0, tracking, step)
    with _aws_errors(params, name):
        stored = ctx.scaling.put_policy(policy)
    answer: Answer = {"PolicyARN": policy_arn(ctx.region, ctx.account, stored)}
    answer["Alarms"] = _alarms(ctx, stored) if step is not None else []
    return answer


def _target_tracking(config: Params, endpoint: str, variant: str) -> TargetTracking:
    predefined: Params | None = config.get("PredefinedMetricSpecification")
    custom: Params | None = config.get("CustomizedMetricSpecification")
    if (predefined is None) == (custom is None):
        raise validation_error(
            "Give exactly one of PredefinedMetricSpecification and CustomizedMetricSpecification."
        )
    if custom is not None:
        metric = _custom_metric(custom, endpoint, variant)
    else:
        assert predefined is not None
        if predefined["PredefinedMetricType"] != PREDEFINED_METRIC:
            raise validation_error(
                f"Unsupported predefined metric type {predefined['PredefinedMetricType']} for "
                f"SageMaker; use {PREDEFINED_METRIC}."
            )
        metric = MetricSpec()
    return TargetTracking(
        target_value=float(config["TargetValue"]),
        metric=metric,
        scale_out_cooldown=config.get("ScaleOutCooldown", 300),
        scale_in_cooldown=config.get("ScaleInCooldown", 300),
        disable_scale_in=bool(config.get("DisableScaleIn", False)),
    )


def _custom_metric(custom: Params, endpoint: str, variant: str) -> MetricSpec:
    if custom.get("Metrics"):
        raise validation_error(
            "turnout does not evaluate metric math (Metrics); give MetricName, Namespace, "
            "Dimensions and Statistic."
        )
    missing = [k for k in ("MetricName", "Namespace", "Statistic") if not custom.get(k)]
    if missing:
        raise validation_error(f"CustomizedMetricSpecification needs {', '.join(missing)}.")
    if custom["Namespace"] != "AWS/SageMaker":
        raise validation_error(
            f"turnout serves the AWS/SageMaker namespace only, not {custom['Namespace']}."
        )
    dimensions = {d["Name"]: d["Value"] for d in custom.get("Dimensions") or ()}
    expected = {"EndpointName": endpoint, "VariantName": variant}
    if any(dimensions.get(k, v) != v for k, v in expected.items()) or set(dimensions) - set(
        expected
    ):
        raise validation_error(
            f"The metric's dimensions must be EndpointName={endpoint} and VariantName={variant}"
            " (the scalable target's)."
        )
    return MetricSpec(custom["MetricName"], custom["Statistic"], predefined=False)


def _step_scaling(config: Params) -> StepScaling:
    if "AdjustmentType" not in config:
        raise validation_error("StepScalingPolicyConfiguration needs an AdjustmentType.")
    steps = tuple(
        Step(
            s["ScalingAdjustment"],
            s.get("MetricIntervalLowerBound"),
            s.get("MetricIntervalUpperBound"),
        )
        for s in config.get("StepAdjustments") or ()
    )
    return StepScaling(
        adjustment_type=AdjustmentType(config["AdjustmentType"]),
        steps=steps,
        cooldown=config.get("Cooldown", 0),
        min_adjustment_magnitude=config.get("MinAdjustmentMagnitude"),
        aggregation=config.get("MetricAggregationType", "Average"),
    )


def _alarms(ctx: Context, policy: ScalingPolicy) -> list[Answer]:
    """The CloudWatch alarms whose AlarmActions name the policy."""
    arn_named = (policy.endpoint, policy.variant, policy.name)
    actions = ctx.scaling.rows.alarm_actions()
    return [
        {
            "AlarmName": alarm,
            "AlarmARN": f"arn:aws:cloudwatch:{ctx.region}:{ctx.account}:alarm:{alarm}",
        }
        for alarm, arns in actions.items()
        if any(policy_of_arn(a) == arn_named for a in arns)
    ]


def describe_scaling_policies(ctx: Context, params: Params) -> Answer:
    _namespace(params)
    endpoint = variant = None
    if params.get("ResourceId"):
        endpoint, variant = _resource(params)
    names = set(params.get("PolicyNames") or ())
    with _aws_errors(params):
        policies = [
            p for p in ctx.scaling.policies(endpoint, variant) if not names or p.name in names
        ]
        return _listed("ScalingPolicies", policies, params, lambda p: _describe_policy(ctx, p))


def _describe_policy(ctx: Context, p: ScalingPolicy) -> Answer:
    described: Answer = {
        "PolicyARN": policy_arn(ctx.region, ctx.account, p),
        "PolicyName": p.name,
        "ServiceNamespace": NAMESPACE,
        "ResourceId": p.resource_id,
        "ScalableDimension": DIMENSION,
        "PolicyType": p.type.value,
        "Alarms": [],
        "CreationTime": p.created_at,
    }
    t, s = p.target_tracking, p.step
    if t is not None:
        config: Answer = {
            "TargetValue": t.target_value,
            "ScaleOutCooldown": t.scale_out_cooldown,
            "ScaleInCooldown": t.scale_in_cooldown,
            "DisableScaleIn": t.disable_scale_in,
        }
        if t.metric.predefined:
            config["PredefinedMetricSpecification"] = {"PredefinedMetricType": PREDEFINED_METRIC}
        else:
            config["CustomizedMetricSpecification"] = {
                "MetricName": t.metric.name,
                "Namespace": "AWS/SageMaker",
                "Dimensions": [
                    {"Name": "EndpointName", "Value": p.endpoint},
                    {"Name": "VariantName", "Value": p.variant},
                ],
                "Statistic": t.metric.statistic,
            }
        described["TargetTrackingScalingPolicyConfiguration"] = config
    elif s is not None:
        steps = []
        for x in s.steps:
            step: Answer = {"ScalingAdjustment": x.adjustment}
            if x.lower is not None:
                step["MetricIntervalLowerBound"] = x.lower
            if x.upper is not None:
                step["MetricIntervalUpperBound"] = x.upper
            steps.append(step)
        config = {
            "AdjustmentType": s.adjustment_type.value,
            "StepAdjustments": steps,
            "Cooldown": s.cooldown,
            "MetricAggregationType": s.aggregation,
        }
        if s.min_adjustment_magnitude is not None:
            config["MinAdjustmentMagnitude"] = s.min_adjustment_magnitude
        described["StepScalingPolicyConfiguration"] = config
        described["Alarms"] = _alarms(ctx, p)
    return described


def delete_scaling_policy(ctx: Context, params: Params) -> Answer:
    endpoint, variant = _resource(params)
    name = params["PolicyName"]
    with _aws_errors(params, name):
        ctx.scaling.delete_policy(endpoint, variant, name)
    return {}


# --- scaling activities ---------------------------------------------------------------
def describe_scaling_activities(ctx: Context, params: Params) -> Answer:
    _namespace(params)
    endpoint = variant = None
    if params.get("ResourceId"):
        endpoint, variant = _resource(params)
    token = params.get("NextToken")
    offset = 0
    if token:
        if not token.isdigit() or len(token) > 9:
            raise AwsError("InvalidNextTokenException", "The next token supplied was invalid.")
        offset = int(token)
    size = params.get("MaxResults", MAX_ACTIVITIES)
    if not 1 <= size <= MAX_ACTIVITIES:
        raise validation_error(f"MaxResults must be from 1 to {MAX_ACTIVITIES}.")
    with _aws_errors(params):
        found = ctx.scaling.activities(endpoint, variant, limit=size + 1, offset=offset)
    answer: Answer = {"ScalingActivities": [describe_activity(a) for a in found[:size]]}
    if len(found) > size:
        answer["NextToken"] = str(offset + size)
    return answer


def describe_activity(a: Activity) -> Answer:
    described: Answer = {
        "ActivityId": a.id,
        "ServiceNamespace": NAMESPACE,
        "ResourceId": a.resource_id,
        "ScalableDimension": DIMENSION,
        "Description": a.description,
        "Cause": a.cause,
        "StartTime": a.start,
        "StatusCode": a.status.value,
    }
    if a.end is not None:
        described["EndTime"] = a.end
    if a.message is not None:
        described["StatusMessage"] = a.message
    return described


HANDLERS: dict[str, Callable[[Context, Params], Answer]] = {
    "RegisterScalableTarget": register_scalable_target,
    "DeregisterScalableTarget": deregister_scalable_target,
    "DescribeScalableTargets": describe_scalable_targets,
    "PutScalingPolicy": put_scaling_policy,
    "DescribeScalingPolicies": describe_scaling_policies,
    "DeleteScalingPolicy": delete_scaling_policy,
    "DescribeScalingActivities": describe_scaling_activities,
}

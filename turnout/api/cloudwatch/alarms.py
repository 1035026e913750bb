"""PutMetricAlarm, DescribeAlarms, DescribeAlarmHistory, DeleteAlarms and SetAlarmState on
turnout's alarms: the alarm a boto3 `cloudwatch` client makes is the one a DeploymentConfig's
AutoRollbackConfiguration names, evaluated every second by the alarm watch.

Handlers are synchronous (the store is): the facade runs them in worker threads.
AlarmActions naming Application Auto Scaling step policies are kept and run by the
autoscaler while the alarm is in ALARM (ADR 0036); other actions (SNS topics, OK and
INSUFFICIENT_DATA actions) are accepted and not run: turnout acts on an alarm through the
deployments and scaling policies that name it, and DescribeAlarms shows only the actions it
runs. The history holds state changes (StateUpdate) only.
"""

from __future__ import annotations

import contextlib
import datetime
import json
from typing import Any

from turnout.api.cloudwatch.context import Answer, Context, Params, page
from turnout.api.cloudwatch.errors import (
    CloudWatchError,
    invalid_combination,
    invalid_parameter,
    missing_parameter,
)
from turnout.api.cloudwatch.names import EXTENDED, Target, target, unit
from turnout.domain.alarms import Alarm, AlarmState, AlarmStatus, Comparison, MissingData
from turnout.domain.drift import DATA_METRICS_NAMESPACE, metric_name
from turnout.domain.scaling import policy_of_arn
from turnout.errors import NotFound

HISTORY_KEPT = 1000  # the newest state changes DescribeAlarmHistory looks through
METRIC_ALARM = "MetricAlarm"
# What turnout cannot evaluate; everything else in PutMetricAlarm is honoured or shown.
UNSUPPORTED = {
    "Metrics": "metric math alarms",
    "ThresholdMetricId": "anomaly detection thresholds",
    "EvaluationCriteria": "PromQL alarms",
}


def at(epoch: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC)


def put_metric_alarm(ctx: Context, params: Params) -> Answer:
    for member, what in UNSUPPORTED.items():
        if params.get(member):
            raise invalid_parameter(
                f"turnout does not evaluate {what} ({member}); alarm on one metric of "
                "AWS/SageMaker with Statistic or ExtendedStatistic and a Threshold."
            )
    found = target(params.get("Namespace"), params.get("MetricName"), params.get("Dimensions"))
    for member in ("Period", "EvaluationPeriods", "Threshold", "ComparisonOperator"):
        if params.get(member) is None:
            raise missing_parameter(member)
    if found.feature is None and params.get("Unit") not in (None, unit(found.metric)):
        raise invalid_parameter(f"{found.metric.value} is in {unit(found.metric)}.")
    ctx.monitoring.put_alarm(
        Alarm(
            name=params["AlarmName"],
            metric=found.metric,
            statistic=_statistic(params),
            endpoint=found.endpoint,
            threshold=float(params["Threshold"]),
            comparison=_enum(Comparison, params["ComparisonOperator"], "ComparisonOperator"),
            variant=found.variant,
            config=found.config,
            period_s=params["Period"],
            evaluation_periods=params["EvaluationPeriods"],
            datapoints_to_alarm=params.get("DatapointsToAlarm"),
            treat_missing_data=_enum(
                MissingData, params.get("TreatMissingData", "missing"), "TreatMissingData"
            ),
            description=params.get("AlarmDescription", ""),
            feature=found.feature,
        )
    )
    if ctx.actions is not None:
        enabled = params.get("ActionsEnabled", True)
        actions = [a for a in params.get("AlarmActions") or () if policy_of_arn(a) is not None]
        ctx.actions.set_alarm_actions(params["AlarmName"], actions if enabled else [])
    return {}


def _statistic(params: Params) -> str:
    simple, extended = params.get("Statistic"), params.get("ExtendedStatistic")
    if simple and extended:
        raise invalid_combination("Give Statistic or ExtendedStatistic, not both.")
    if not simple and not extended:
        raise missing_parameter("Statistic")
    if extended and extended not in EXTENDED:
        raise invalid_parameter(
            f"ExtendedStatistic {extended} is not kept: turnout has {', '.join(EXTENDED)}."
        )
    return str(simple or extended)


def _enum(kind: Any, value: str, member: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(k.value for k in kind)
        raise invalid_parameter(f"{member} {value} is not supported: use {choices}.") from None


def describe_alarms(ctx: Context, params: Params) -> Answer:
    names, prefix = params.get("AlarmNames"), params.get("AlarmNamePrefix")
    if names and prefix:
        raise invalid_combination("Give AlarmNames or AlarmNamePrefix, not both.")
    statuses = ctx.monitoring.list_alarms()
    if (
        METRIC_ALARM not in (params.get("AlarmTypes") or [METRIC_ALARM])
        or params.get("ChildrenOfAlarmName")  # composite alarms: turnout has none
        or params.get("ParentsOfAlarmName")
    ):
        statuses = []
    actions = ctx.actions.alarm_actions() if ctx.actions is not None else {}
    if params.get("ActionPrefix"):
        action_prefix = params["ActionPrefix"]
        statuses = [
            s
            for s in statuses
            if any(a.startswith(action_prefix) for a in actions.get(s.alarm.name, ()))
        ]
    if names:
        statuses = [s for s in statuses if s.alarm.name in set(names)]
    if prefix:
        statuses = [s for s in statuses if s.alarm.name.startswith(prefix)]
    if params.get("StateValue"):
        statuses = [s for s in statuses if s.state.value == params["StateValue"]]
    shown, token = page(statuses, params.get("NextToken"), params.get("MaxRecords", 50))
    answer: Answer = {
        "MetricAlarms": [_metric_alarm(ctx, s, actions.get(s.alarm.name, [])) for s in shown],
        "CompositeAlarms": [],
    }
    return answer | ({"NextToken": token} if token else {})


def _metric_alarm(ctx: Context, status: AlarmStatus, actions: list[str]) -> Answer:
    alarm = status.alarm
    found = Target(alarm.metric, alarm.endpoint, alarm.variant, alarm.config)
    if alarm.feature is not None:
        found = Target(
            alarm.metric,
            alarm.endpoint,
            alarm.variant,
            None,
            DATA_METRICS_NAMESPACE,
            alarm.feature,
        )
    statistic = "ExtendedStatistic" if alarm.statistic in EXTENDED else "Statistic"
    answer: Answer = {
        "AlarmName": alarm.name,
        "AlarmArn": ctx.alarm_arn(alarm.name),
        "AlarmDescription": alarm.description or None,
        "AlarmConfigurationUpdatedTimestamp": at(status.created_at),
        "ActionsEnabled": bool(actions),
        "OKActions": [],
        "AlarmActions": actions,
        "InsufficientDataActions": [],
        "StateValue": status.state.value,
        "StateReason": status.reason,
        "StateUpdatedTimestamp": at(status.state_updated_at),
        "StateTransitionedTimestamp": at(status.state_updated_at),
        "MetricName": alarm.metric.value if alarm.feature is None else metric_name(alarm.feature),
        "Namespace": found.namespace,
        statistic: alarm.statistic,
        "Dimensions": found.dimensions(),
        "Period": alarm.period_s,
        "EvaluationPeriods": alarm.evaluation_periods,
        "DatapointsToAlarm": alarm.datapoints_to_alarm,
        "Threshold": alarm.threshold,
        "ComparisonOperator": alarm.comparison.value,
        "TreatMissingData": alarm.treat_missing_data.value,
    }
    return {k: v for k, v in answer.items() if v is not None}


def describe_alarm_history(ctx: Context, params: Params) -> Answer:
    items = ctx.monitoring.alarm_history(params.get("AlarmName"), HISTORY_KEPT)
    if params.get("HistoryItemType") not in (None, "StateUpdate") or METRIC_ALARM not in (
        params.get("AlarmTypes") or [METRIC_ALARM]
    ):
        items = []
    start, end = params.get("StartDate"), params.get("EndDate")
    items = [t for t in items if (start is None or t.at >= start) and (end is None or t.at <= end)]
    if params.get("ScanBy") == "TimestampAscending":
        items.reverse()
    shown, token = page(items, params.get("NextToken"), params.get("MaxRecords", 100))
    history = [
        {
            "AlarmName": t.alarm,
            "AlarmType": METRIC_ALARM,
            "Timestamp": at(t.at),
            "HistoryItemType": "StateUpdate",
            "HistorySummary": f"Alarm updated from {t.old_state.value} to {t.new_state.value}",
            "HistoryData": json.dumps(
                {
                    "version": "1.0",
                    "oldState": {"stateValue": t.old_state.value},
                    "newState": {"stateValue": t.new_state.value, "stateReason": t.reason},
                }
            ),
        }
        for t in shown
    ]
    return {"AlarmHistoryItems": history} | ({"NextToken": token} if token else {})


def delete_alarms(ctx: Context, params: Params) -> Answer:
    names = params["AlarmNames"]
    known = {s.alarm.name for s in ctx.monitoring.list_alarms()}
    missing = [n for n in names if n not in known]
    if missing:
        raise _no_alarm(missing[0])
    for name in names:
        with contextlib.suppress(NotFound):  # deleted meanwhile, or named twice: as asked
            ctx.monitoring.delete_alarm(name)
        if ctx.actions is not None:
            ctx.actions.set_alarm_actions(name, [])
    return {}


def set_alarm_state(ctx: Context, params: Params) -> Answer:
    data = params.get("StateReasonData")
    if data is not None:
        try:
            json.loads(data)
        except ValueError:
            raise CloudWatchError(
                "InvalidFormat", "StateReasonData must be JSON.", shape="InvalidFormatFault"
            ) from None
    try:
        ctx.monitoring.set_alarm_state(
            params["AlarmName"], AlarmState(params["StateValue"]), params["StateReason"]
        )
    except NotFound:
        raise _no_alarm(params["AlarmName"]) from None
    return {}


def _no_alarm(name: str) -> CloudWatchError:
    return CloudWatchError("ResourceNotFound", f"Alarm {name} does not exist.", 404)

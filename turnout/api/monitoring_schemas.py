"""JSON documents of the native API's alarms and metric queries (pydantic)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from turnout.domain.alarms import (
    Alarm,
    AlarmState,
    AlarmStatus,
    AlarmTransition,
    Comparison,
    MissingData,
)
from turnout.domain.rollups import STATISTICS, Metric
from turnout.metrics.series import Datapoint
from turnout.monitoring import VariantSummary

_STRICT = ConfigDict(extra="forbid")


class AlarmDefinition(BaseModel):
    name: str = Field(examples=["digits-5xx"])
    endpoint: str = Field(examples=["digits"])
    metric: Metric = Field(examples=[Metric.INVOCATION_5XX_ERRORS])
    statistic: str = Field(
        description=f"One of {', '.join(STATISTICS)}. Average of an error count is the error "
        "rate; latencies are in microseconds.",
        examples=["Average"],
    )
    threshold: float = Field(examples=[0.05])
    comparison: Comparison = Field(examples=[Comparison.GREATER])
    variant: str | None = Field(None, description="One variant; none: the whole endpoint.")
    config: str | None = Field(
        None,
        description="One endpoint config's fleet (CloudWatch's EndpointConfigName), e.g. the "
        "green config of a deployment; none: every fleet.",
        examples=["digits-v2"],
    )
    period: int = Field(10, description="Seconds per datapoint, a multiple of 10.")
    evaluation_periods: int = Field(1, description="How many recent datapoints to look at.")
    datapoints_to_alarm: int | None = Field(
        None, description="How many of them must breach (default: all)."
    )
    treat_missing_data: MissingData = MissingData.MISSING
    feature: str | None = Field(
        None,
        description="Watch this feature's drift (Model Monitor's feature_baseline_drift_"
        "<feature>, docs/drift.md) instead of `metric`, which is then not read.",
        examples=[None],
    )


class AlarmIn(AlarmDefinition):
    model_config = _STRICT

    def resource(self) -> Alarm:
        return Alarm(
            name=self.name,
            metric=self.metric,
            statistic=self.statistic,
            endpoint=self.endpoint,
            threshold=self.threshold,
            comparison=self.comparison,
            variant=self.variant,
            config=self.config,
            period_s=self.period,
            evaluation_periods=self.evaluation_periods,
            datapoints_to_alarm=self.datapoints_to_alarm,
            treat_missing_data=self.treat_missing_data,
            feature=self.feature,
        )


class AlarmTransitionOut(BaseModel):
    at: float
    old_state: AlarmState
    new_state: AlarmState
    reason: str

    @classmethod
    def of(cls, change: AlarmTransition) -> AlarmTransitionOut:
        return cls(
            at=change.at,
            old_state=change.old_state,
            new_state=change.new_state,
            reason=change.reason,
        )


class AlarmOut(AlarmDefinition):
    state: AlarmState
    reason: str = Field(description="Why the alarm is in its state, in CloudWatch's words.")
    state_updated_at: float
    created_at: float
    history: list[AlarmTransitionOut] | None = Field(
        None, description="Latest state changes, newest first (describe only)."
    )

    @classmethod
    def of(cls, status: AlarmStatus, history: list[AlarmTransition] | None = None) -> AlarmOut:
        alarm = status.alarm
        return cls(
            name=alarm.name,
            endpoint=alarm.endpoint,
            metric=alarm.metric,
            statistic=alarm.statistic,
            threshold=alarm.threshold,
            comparison=alarm.comparison,
            variant=alarm.variant,
            config=alarm.config,
            period=alarm.period_s,
            evaluation_periods=alarm.evaluation_periods,
            datapoints_to_alarm=alarm.datapoints_to_alarm,
            treat_missing_data=alarm.treat_missing_data,
            feature=alarm.feature,
            state=status.state,
            reason=status.reason,
            state_updated_at=status.state_updated_at,
            created_at=status.created_at,
            history=None if history is None else [AlarmTransitionOut.of(t) for t in history],
        )


class DatapointOut(BaseModel):
    timestamp: float = Field(description="Start of the period (epoch seconds).")
    value: float | None = Field(description="None: no invocations in the period.")


class MetricSeriesOut(BaseModel):
    endpoint: str
    metric: Metric
    statistic: str
    period: int
    variant: str | None
    config: str | None
    datapoints: list[DatapointOut]

    @staticmethod
    def points(datapoints: list[Datapoint]) -> list[DatapointOut]:
        return [DatapointOut(timestamp=p.start, value=p.value) for p in datapoints]


class VariantMetricsOut(BaseModel):
    variant: str
    config: str = Field(description="The endpoint config (fleet) the variant belongs to.")
    metrics: dict[str, dict[str, float]] = Field(
        description="SageMaker metric name -> statistic -> value (latencies in microseconds).",
        examples=[{"Invocations": {"Sum": 120.0}, "ModelLatency": {"p50": 410.0}}],
    )
    shadow: bool = Field(
        False, description="A shadow variant: its invocations are copies, never answered."
    )

    @classmethod
    def of(cls, summary: VariantSummary) -> VariantMetricsOut:
        return cls(
            variant=summary.key.variant,
            config=summary.key.config,
            shadow=summary.shadow,
            metrics={m.value: stats for m, stats in summary.statistics.items()},
        )


class MetricsSummaryOut(BaseModel):
    endpoint: str
    seconds: float
    variants: list[VariantMetricsOut]

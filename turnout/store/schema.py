"""The tables of the store (SQLAlchemy Core); alembic's migrations must produce exactly this.

Models and endpoint configs are soft-deleted (`deleted_at` set) because the configs and
endpoints created from them keep referencing the exact rows by surrogate id: SageMaker lets
you delete a model an endpoint still serves. A name is unique only among live rows
(partial unique index), so a deleted name can be registered again. Endpoints are
hard-deleted: nothing references them.

Enum values (flavor, status) are plain strings, so adding a value needs no migration.
"""

from __future__ import annotations

import sqlalchemy as sa

# Named constraints keep future migrations deterministic (and SQLite batch mode workable).
metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer, primary_key=True)


def _live_name_index(table: str) -> sa.Index:
    """Unique name among rows not soft-deleted."""
    live = sa.text("deleted_at IS NULL")
    return sa.Index(
        f"uq_{table}_live_name",
        "name",
        unique=True,
        sqlite_where=live,
        postgresql_where=live,
    )


models = sa.Table(
    "models",
    metadata,
    _id(),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("artifact", sa.Text, nullable=False),
    sa.Column("flavor", sa.Text, nullable=False),
    sa.Column("command", sa.JSON(none_as_null=True), nullable=True),  # argv list, or NULL
    sa.Column("environment", sa.JSON, nullable=False),
    sa.Column("image", sa.Text, nullable=True),
    sa.Column("execution_role_arn", sa.Text, nullable=True),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("deleted_at", sa.Double, nullable=True),
    # SingleModel or MultiModel (ADR 0037, migration 0014).
    sa.Column("mode", sa.Text, nullable=False, server_default="SingleModel"),
    # An inference pipeline's containers, a JSON list; NULL for one container (ADR 0039).
    sa.Column("containers", sa.JSON(none_as_null=True), nullable=True),
    _live_name_index("models"),
    # AUTOINCREMENT: SQLite never reuses an id, like a PostgreSQL sequence.
    sqlite_autoincrement=True,
)

endpoint_configs = sa.Table(
    "endpoint_configs",
    metadata,
    _id(),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("deleted_at", sa.Double, nullable=True),
    # SageMaker's DataCaptureConfig (turnout.domain.resources.DataCapture as JSON), or NULL.
    sa.Column("data_capture", sa.JSON(none_as_null=True), nullable=True),
    # SageMaker's AsyncInferenceConfig (turnout.domain.async_inference as JSON), or NULL.
    sa.Column("async_inference", sa.JSON(none_as_null=True), nullable=True),
    _live_name_index("endpoint_configs"),
    sqlite_autoincrement=True,
)

production_variants = sa.Table(
    "production_variants",
    metadata,
    sa.Column("config_id", sa.ForeignKey("endpoint_configs.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),  # order within the config
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("model_id", sa.ForeignKey("models.id"), nullable=False, index=True),
    sa.Column("initial_instance_count", sa.Integer, nullable=False),
    sa.Column("initial_weight", sa.Double, nullable=False),
    sa.Column("instance_type", sa.Text, nullable=True),
    # SageMaker's ServerlessConfig of the variant ({"memory_size_mb": ..., ...}), or NULL.
    sa.Column("serverless_config", sa.JSON(none_as_null=True), nullable=True),
    # A shadow variant (ShadowProductionVariants): mirrored a sample of the traffic, never
    # answering callers; its weight over the production variants' is the sampled share.
    sa.Column("shadow", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("config_id", "name"),
)

endpoints = sa.Table(
    "endpoints",
    metadata,
    _id(),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("config_id", sa.ForeignKey("endpoint_configs.id"), nullable=False, index=True),
    # The config an UpdateEndpoint is deploying (the green fleet), if any.
    sa.Column("pending_config_id", sa.ForeignKey("endpoint_configs.id"), nullable=True, index=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("failure_reason", sa.Text, nullable=True),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("last_modified_at", sa.Double, nullable=False),
    sqlite_autoincrement=True,
)

variant_states = sa.Table(
    "variant_states",
    metadata,
    sa.Column("endpoint_id", sa.ForeignKey("endpoints.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("desired_weight", sa.Double, nullable=False),
    sa.Column("desired_instance_count", sa.Integer, nullable=False),
    sa.Column("current_weight", sa.Double, nullable=True),
    sa.Column("current_instance_count", sa.Integer, nullable=True),
    sa.UniqueConstraint("endpoint_id", "name"),
)

# Tags of live resources, by kind ("model", "endpoint config", "endpoint") and name.
# Deleting a resource deletes its tags in the same transaction.
tags = sa.Table(
    "tags",
    metadata,
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),  # keeps the order tags were added in
)

# Per-variant invocation metrics, one row per (period, router). Several routers (scale-out)
# each write their own row (`source`); readers add them up. Latencies are sparse histograms
# {"buckets": {index: count}, "total": µs, "max": µs} (turnout.domain.histogram).
rollups = sa.Table(
    "rollups",
    metadata,
    sa.Column("endpoint", sa.Text, primary_key=True),
    sa.Column("config", sa.Text, primary_key=True),
    sa.Column("variant", sa.Text, primary_key=True),
    sa.Column("start", sa.Double, primary_key=True),
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("period", sa.Double, nullable=False),
    sa.Column("instances", sa.Integer, nullable=False),
    sa.Column("invocations", sa.Integer, nullable=False),
    sa.Column("errors_4xx", sa.Integer, nullable=False),
    sa.Column("errors_5xx", sa.Integer, nullable=False),
    sa.Column("model_errors", sa.Integer, nullable=False),
    sa.Column("model_latency", sa.JSON, nullable=False),
    sa.Column("overhead_latency", sa.JSON, nullable=False),
    # CPUUtilization / MemoryUtilization: the variant's instances' mean at flush (0006).
    sa.Column("cpu_percent", sa.Double, nullable=True),
    sa.Column("memory_percent", sa.Double, nullable=True),
    # A multi-model variant's model-cache counts (domain.rollups.ModelCacheWindow), or NULL.
    sa.Column("multi_model", sa.JSON(none_as_null=True), nullable=True),
    # ModelSetupTime: the cold starts of serverless instances in the period, or NULL (0015).
    sa.Column("model_setup_time", sa.JSON(none_as_null=True), nullable=True),
    sa.Index("ix_rollups_endpoint_start", "endpoint", "start"),
)

# Alarm definitions (turnout.domain.alarms.Alarm as JSON) with their current state.
alarms = sa.Table(
    "alarms",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("definition", sa.JSON, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("state_reason", sa.Text, nullable=False),
    sa.Column("state_updated_at", sa.Double, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
)

# Every state change of every alarm, kept when the alarm is deleted (deployment history
# names the alarms that rolled it back).
alarm_history = sa.Table(
    "alarm_history",
    metadata,
    _id(),
    sa.Column("alarm", sa.Text, nullable=False),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("old_state", sa.Text, nullable=False),
    sa.Column("new_state", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Index("ix_alarm_history_alarm_at", "alarm", "at"),
    sqlite_autoincrement=True,
)

# Guarded blue/green deployments (turnout.domain.deployments.Deployment), one row each;
# the controller writes a row (compare-and-set on `revision`) before it acts on it. The API
# writes only `requested`. Deleted with their endpoint.
deployments = sa.Table(
    "deployments",
    metadata,
    _id(),
    sa.Column("endpoint_id", sa.ForeignKey("endpoints.id"), nullable=False, index=True),
    sa.Column("blue_config", sa.Text, nullable=False),
    sa.Column("green_config", sa.Text, nullable=False),
    sa.Column("policy", sa.JSON, nullable=False),  # SageMaker's DeploymentConfig document
    sa.Column("steps", sa.JSON, nullable=False),  # [[green share, bake seconds], ...]
    sa.Column("phase", sa.Text, nullable=False),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("step_started_at", sa.Double, nullable=True),
    sa.Column("started_at", sa.Double, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("paused", sa.Boolean, nullable=False),
    sa.Column("requested", sa.Text, nullable=True),
    sa.Column("failure_reason", sa.Text, nullable=True),
    sa.Column("finished_at", sa.Double, nullable=True),
    # turnout.domain.checks.PredictionTest as a document; written once, with the row.
    sa.Column("prediction_test", sa.JSON(none_as_null=True), nullable=True),
    sqlite_autoincrement=True,
)

deployment_events = sa.Table(
    "deployment_events",
    metadata,
    _id(),
    sa.Column("deployment_id", sa.ForeignKey("deployments.id"), nullable=False, index=True),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("step", sa.Integer, nullable=True),
    sa.Column("green_share", sa.Double, nullable=True),
    sqlite_autoincrement=True,
)

# An endpoint's routing settings (turnout.domain.routing, ADR 0013): assignment key
# sources and targeting rules as a JSON document, and the salt of its sticky assignment.
# Created on first use; deleted with the endpoint.
routing_settings = sa.Table(
    "routing_settings",
    metadata,
    sa.Column("endpoint_id", sa.ForeignKey("endpoints.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("salt", sa.Text, nullable=False),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
)

# First exposure of each user (assignment key) of an endpoint: the variant the router gave
# it first. `randomized`: the weights chose (not a targeting rule); only those count in
# experiments. Kept by endpoint name, past the endpoint, until retention drops them.
exposures = sa.Table(
    "exposures",
    metadata,
    sa.Column("endpoint", sa.Text, primary_key=True),
    sa.Column("user_key", sa.Text, primary_key=True),
    sa.Column("variant", sa.Text, nullable=False),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("randomized", sa.Boolean, nullable=False),
    sa.Column("at", sa.Double, nullable=False, index=True),
)

# Which variant answered an invocation the caller gave an X-Amzn-SageMaker-Inference-Id,
# and for which user (if it had a key): feedback may name the inference instead of the user.
inferences = sa.Table(
    "inferences",
    metadata,
    sa.Column("endpoint", sa.Text, primary_key=True),
    sa.Column("inference_id", sa.Text, primary_key=True),
    sa.Column("user_key", sa.Text, nullable=True),
    sa.Column("variant", sa.Text, nullable=False),
    sa.Column("at", sa.Double, nullable=False, index=True),
)

# Outcome events as received (by user or by inference id), matched or not.
feedback = sa.Table(
    "feedback",
    metadata,
    _id(),
    sa.Column("endpoint", sa.Text, nullable=False),
    sa.Column("user_key", sa.Text, nullable=True),
    sa.Column("inference_id", sa.Text, nullable=True),
    sa.Column("metric", sa.Text, nullable=False),
    sa.Column("value", sa.Double, nullable=False),
    sa.Column("at", sa.Double, nullable=False),
    sa.Index("ix_feedback_endpoint_metric", "endpoint", "metric"),
    sa.Index("ix_feedback_at", "at"),
    sqlite_autoincrement=True,
)

# Experiments (turnout.experiments.definition.Experiment as JSON) on an endpoint.
experiments = sa.Table(
    "experiments",
    metadata,
    _id(),
    sa.Column("endpoint", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("definition", sa.JSON, nullable=False),
    sa.Column("auto_promote", sa.Boolean, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # running, stopped, promoted
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("stopped_at", sa.Double, nullable=True),
    sa.Column("outcome", sa.Text, nullable=True),  # why it stopped / what was promoted
    # What the analysis keeps between looks (running minima, the planned read: ADR 0024),
    # replaced by compare-and-set on state_version so that concurrent reports lose no read.
    sa.Column("state", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("state_version", sa.Integer, nullable=False, server_default="0"),
    sa.UniqueConstraint("endpoint", "name"),
    sqlite_autoincrement=True,
)

# Scale-out (ADR 0019). The controller's routing plan of each endpoint (turnout.domain.plans
# as JSON), versioned: every write bumps `version` (compare-and-set), and node agents apply
# the newest. Kept by endpoint name; deleted once every node has stopped the endpoint.
routing_plans = sa.Table(
    "routing_plans",
    metadata,
    sa.Column("endpoint", sa.Text, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
)

# Every `turnout serve` process (node) and its latest report (turnout.domain.nodes), written
# every second: a node whose heartbeat is older than the lease time is gone.
nodes = sa.Table(
    "nodes",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("backend", sa.Text, nullable=False),
    sa.Column("started_at", sa.Double, nullable=False),
    sa.Column("heartbeat_at", sa.Double, nullable=False),
    sa.Column("report", sa.JSON, nullable=False),
)

# Leases, by name ("controller"): who holds it until when (compare-and-set on expiry).
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("holder", sa.Text, nullable=False),
    sa.Column("acquired_at", sa.Double, nullable=False),
    sa.Column("expires_at", sa.Double, nullable=False),
)

# Shadow variants (ADR 0021): each router's tally of (production answer, shadow answer)
# pairs for one shadow variant over one flush period (turnout.shadow.tally as JSON); a
# report over a time window sums the rows whose period starts in it.
shadow_comparisons = sa.Table(
    "shadow_comparisons",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("endpoint", sa.Text, nullable=False),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("variant", sa.Text, nullable=False),  # the production variant mirrored
    sa.Column("shadow", sa.Text, nullable=False),
    sa.Column("node", sa.Text, nullable=False),
    sa.Column("period_start", sa.Double, nullable=False),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Index("ix_shadow_comparisons_endpoint_period", "endpoint", "period_start"),
)

# SageMaker's inference experiments (shadow tests): the definition and state as JSON
# (turnout.domain.inference_experiments), kept after they end.
inference_experiments = sa.Table(
    "inference_experiments",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("endpoint", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Column("document", sa.JSON, nullable=False),
)

# Asynchronous inference (ADR 0031): the persistent queue of InvokeEndpointAsync requests.
# A worker claims a queued row by compare-and-set (state queued -> running, with its lease);
# a running row whose lease expired goes back to queued. Finished rows are kept a while.
async_requests = sa.Table(
    "async_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("endpoint", sa.Text, nullable=False),
    sa.Column("inference_id", sa.Text, nullable=False),
    sa.Column("input_location", sa.Text, nullable=False),
    sa.Column("output_location", sa.Text, nullable=False),
    sa.Column("failure_location", sa.Text, nullable=False),
    sa.Column("content_type", sa.Text, nullable=True),
    sa.Column("accept", sa.Text, nullable=True),
    sa.Column("custom_attributes", sa.Text, nullable=True),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("enqueued_at", sa.Double, nullable=False),
    sa.Column("deadline", sa.Double, nullable=False),
    sa.Column("invocation_timeout", sa.Double, nullable=False),
    sa.Column("lease_owner", sa.Text, nullable=True),
    sa.Column("lease_expires", sa.Double, nullable=True),
    sa.Column("finished_at", sa.Double, nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    # An InferenceId names one request of an endpoint: a retried call finds its row.
    sa.UniqueConstraint("endpoint", "inference_id"),
    sa.Index(None, "state", "endpoint", "id"),
    sqlite_autoincrement=True,
)

# Autoscaling (ADR 0036): Application Auto Scaling's targets, policies and activities.
scalable_targets = sa.Table(
    "scalable_targets",
    metadata,
    sa.Column("endpoint", sa.Text, nullable=False),
    sa.Column("variant", sa.Text, nullable=False),
    sa.Column("min_capacity", sa.Integer, nullable=False),
    sa.Column("max_capacity", sa.Integer, nullable=False),
    sa.Column("suspended", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.PrimaryKeyConstraint("endpoint", "variant"),
)

scaling_policies = sa.Table(
    "scaling_policies",
    metadata,
    sa.Column("endpoint", sa.Text, nullable=False),
    sa.Column("variant", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("policy_type", sa.Text, nullable=False),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.PrimaryKeyConstraint("endpoint", "variant", "name"),
)

scaling_activities = sa.Table(
    "scaling_activities",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("activity_id", sa.Text, nullable=False),
    sa.Column("endpoint", sa.Text, nullable=False),
    sa.Column("variant", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("cause", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("direction", sa.Text, nullable=False),
    sa.Column("from_count", sa.Integer, nullable=False),
    sa.Column("to_count", sa.Integer, nullable=False),
    sa.Column("start_time", sa.Double, nullable=False),
    sa.Column("end_time", sa.Double, nullable=True),
    sa.Column("message", sa.Text, nullable=True),
    sa.UniqueConstraint("activity_id"),
    sa.Index(None, "endpoint", "variant", "id"),
    sqlite_autoincrement=True,
)

# A CloudWatch alarm's AlarmActions: the step-scaling policies (ARNs) it triggers.
alarm_actions = sa.Table(
    "alarm_actions",
    metadata,
    sa.Column("alarm", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.PrimaryKeyConstraint("alarm", "action"),
)

# Drift monitoring (ADR 0041): a baseline per endpoint, drift reports per variant.
drift_baselines = sa.Table(
    "drift_baselines",
    metadata,
    sa.Column("endpoint", sa.Text, nullable=False),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.PrimaryKeyConstraint("endpoint"),
)

drift_reports = sa.Table(
    "drift_reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("endpoint", sa.Text, nullable=False),
    sa.Column("variant", sa.Text, nullable=False),
    sa.Column("computed_at", sa.Double, nullable=False),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Index(None, "endpoint", "computed_at"),
    sqlite_autoincrement=True,
)

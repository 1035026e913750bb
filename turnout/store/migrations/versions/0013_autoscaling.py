"""autoscaling: scalable targets, scaling policies and activities, alarm actions (ADR 0036)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07

Frozen: never import the live schema here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "scalable_targets",
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("variant", sa.Text(), nullable=False),
        sa.Column("min_capacity", sa.Integer(), nullable=False),
        sa.Column("max_capacity", sa.Integer(), nullable=False),
        sa.Column("suspended", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("endpoint", "variant", name="pk_scalable_targets"),
    )
    op.create_table(
        "scaling_policies",
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("variant", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("policy_type", sa.Text(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("endpoint", "variant", "name", name="pk_scaling_policies"),
    )
    op.create_table(
        "scaling_activities",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("activity_id", sa.Text(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("variant", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("direction", sa.Text(), nullable=False),
        sa.Column("from_count", sa.Integer(), nullable=False),
        sa.Column("to_count", sa.Integer(), nullable=False),
        sa.Column("start_time", sa.Double(), nullable=False),
        sa.Column("end_time", sa.Double(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_scaling_activities"),
        sa.UniqueConstraint("activity_id", name="uq_scaling_activities_activity_id"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_scaling_activities_endpoint_variant_id",
        "scaling_activities",
        ["endpoint", "variant", "id"],
    )
    op.create_table(
        "alarm_actions",
        sa.Column("alarm", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("alarm", "action", name="pk_alarm_actions"),
    )


def downgrade() -> None:
    op.drop_table("alarm_actions")
    op.drop_index("ix_scaling_activities_endpoint_variant_id", table_name="scaling_activities")
    op.drop_table("scaling_activities")
    op.drop_table("scaling_policies")
    op.drop_table("scalable_targets")

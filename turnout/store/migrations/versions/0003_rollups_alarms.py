"""per-variant metric rollups; alarms and their state history

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

Frozen: never import the live schema here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "rollups",
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("variant", sa.Text(), nullable=False),
        sa.Column("start", sa.Double(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("period", sa.Double(), nullable=False),
        sa.Column("instances", sa.Integer(), nullable=False),
        sa.Column("invocations", sa.Integer(), nullable=False),
        sa.Column("errors_4xx", sa.Integer(), nullable=False),
        sa.Column("errors_5xx", sa.Integer(), nullable=False),
        sa.Column("model_errors", sa.Integer(), nullable=False),
        sa.Column("model_latency", sa.JSON(), nullable=False),
        sa.Column("overhead_latency", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint(
            "endpoint", "config", "variant", "start", "source", name="pk_rollups"
        ),
    )
    op.create_index("ix_rollups_endpoint_start", "rollups", ["endpoint", "start"])
    op.create_table(
        "alarms",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=False),
        sa.Column("state_updated_at", sa.Double(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_alarms"),
    )
    op.create_table(
        "alarm_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alarm", sa.Text(), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("old_state", sa.Text(), nullable=False),
        sa.Column("new_state", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alarm_history"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_alarm_history_alarm_at", "alarm_history", ["alarm", "at"])


def downgrade() -> None:
    op.drop_index("ix_alarm_history_alarm_at", table_name="alarm_history")
    op.drop_table("alarm_history")
    op.drop_table("alarms")
    op.drop_index("ix_rollups_endpoint_start", table_name="rollups")
    op.drop_table("rollups")

"""drift monitoring: baselines per endpoint and drift reports per variant (ADR 0041)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07

Frozen: never import the live schema here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "drift_baselines",
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("endpoint", name="pk_drift_baselines"),
    )
    op.create_table(
        "drift_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("variant", sa.Text(), nullable=False),
        sa.Column("computed_at", sa.Double(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_drift_reports"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_drift_reports_endpoint_computed_at", "drift_reports", ["endpoint", "computed_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_drift_reports_endpoint_computed_at", table_name="drift_reports")
    op.drop_table("drift_reports")
    op.drop_table("drift_baselines")

"""shadow variants, their comparisons with production, inference experiments

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

Frozen: never import the live schema here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("production_variants") as batch:
        batch.add_column(
            sa.Column("shadow", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "shadow_comparisons",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("variant", sa.Text(), nullable=False),
        sa.Column("shadow", sa.Text(), nullable=False),
        sa.Column("node", sa.Text(), nullable=False),
        sa.Column("period_start", sa.Double(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_shadow_comparisons"),
    )
    op.create_index(
        "ix_shadow_comparisons_endpoint_period",
        "shadow_comparisons",
        ["endpoint", "period_start"],
    )
    op.create_table(
        "inference_experiments",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_inference_experiments"),
    )


def downgrade() -> None:
    op.drop_table("inference_experiments")
    op.drop_index("ix_shadow_comparisons_endpoint_period", table_name="shadow_comparisons")
    op.drop_table("shadow_comparisons")
    with op.batch_alter_table("production_variants") as batch:
        batch.drop_column("shadow")

"""asynchronous inference: AsyncInferenceConfig and the request queue (ADR 0031)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07

Frozen: never import the live schema here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("endpoint_configs") as batch:
        batch.add_column(sa.Column("async_inference", sa.JSON(none_as_null=True), nullable=True))
    op.create_table(
        "async_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("inference_id", sa.Text(), nullable=False),
        sa.Column("input_location", sa.Text(), nullable=False),
        sa.Column("output_location", sa.Text(), nullable=False),
        sa.Column("failure_location", sa.Text(), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=True),
        sa.Column("accept", sa.Text(), nullable=True),
        sa.Column("custom_attributes", sa.Text(), nullable=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("enqueued_at", sa.Double(), nullable=False),
        sa.Column("deadline", sa.Double(), nullable=False),
        sa.Column("invocation_timeout", sa.Double(), nullable=False),
        sa.Column("lease_owner", sa.Text(), nullable=True),
        sa.Column("lease_expires", sa.Double(), nullable=True),
        sa.Column("finished_at", sa.Double(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_async_requests"),
        sa.UniqueConstraint(
            "endpoint", "inference_id", name="uq_async_requests_endpoint_inference_id"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_async_requests_state_endpoint_id", "async_requests", ["state", "endpoint", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_async_requests_state_endpoint_id", table_name="async_requests")
    op.drop_table("async_requests")
    with op.batch_alter_table("endpoint_configs") as batch:
        batch.drop_column("async_inference")

"""routing settings, exposures, inferences, feedback and experiments

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25

Frozen: never import the live schema here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "routing_settings",
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("salt", sa.Text(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["endpoints.id"],
            name="fk_routing_settings_endpoint_id_endpoints",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("endpoint_id", name="pk_routing_settings"),
    )
    op.create_table(
        "exposures",
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("user_key", sa.Text(), nullable=False),
        sa.Column("variant", sa.Text(), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("randomized", sa.Boolean(), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("endpoint", "user_key", name="pk_exposures"),
    )
    op.create_index("ix_exposures_at", "exposures", ["at"])
    op.create_table(
        "inferences",
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("inference_id", sa.Text(), nullable=False),
        sa.Column("user_key", sa.Text(), nullable=True),
        sa.Column("variant", sa.Text(), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("endpoint", "inference_id", name="pk_inferences"),
    )
    op.create_index("ix_inferences_at", "inferences", ["at"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("user_key", sa.Text(), nullable=True),
        sa.Column("inference_id", sa.Text(), nullable=True),
        sa.Column("metric", sa.Text(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feedback"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_feedback_endpoint_metric", "feedback", ["endpoint", "metric"])
    op.create_index("ix_feedback_at", "feedback", ["at"])
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("auto_promote", sa.Boolean(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("stopped_at", sa.Double(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_experiments"),
        sa.UniqueConstraint("endpoint", "name", name="uq_experiments_endpoint_name"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("experiments")
    op.drop_index("ix_feedback_at", table_name="feedback")
    op.drop_index("ix_feedback_endpoint_metric", table_name="feedback")
    op.drop_table("feedback")
    op.drop_index("ix_inferences_at", table_name="inferences")
    op.drop_table("inferences")
    op.drop_index("ix_exposures_at", table_name="exposures")
    op.drop_table("exposures")
    op.drop_table("routing_settings")

"""initial schema: models, endpoint configs and their variants, endpoints and their state

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Frozen copy of `turnout/store/schema.py` as of this revision: never import the live
schema here, later revisions build on exactly this.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_LIVE = "deleted_at IS NULL"


def _create_live_name_index(table: str) -> None:
    op.create_index(
        f"uq_{table}_live_name",
        table,
        ["name"],
        unique=True,
        sqlite_where=sa.text(_LIVE),
        postgresql_where=sa.text(_LIVE),
    )


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("artifact", sa.Text(), nullable=False),
        sa.Column("flavor", sa.Text(), nullable=False),
        sa.Column("command", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("environment", sa.JSON(), nullable=False),
        sa.Column("image", sa.Text(), nullable=True),
        sa.Column("execution_role_arn", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("deleted_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_models"),
        sqlite_autoincrement=True,
    )
    _create_live_name_index("models")

    op.create_table(
        "endpoint_configs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("deleted_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_endpoint_configs"),
        sqlite_autoincrement=True,
    )
    _create_live_name_index("endpoint_configs")

    op.create_table(
        "production_variants",
        sa.Column("config_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("initial_instance_count", sa.Integer(), nullable=False),
        sa.Column("initial_weight", sa.Double(), nullable=False),
        sa.Column("instance_type", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["config_id"],
            ["endpoint_configs.id"],
            name="fk_production_variants_config_id_endpoint_configs",
        ),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name="fk_production_variants_model_id_models"
        ),
        sa.PrimaryKeyConstraint("config_id", "position", name="pk_production_variants"),
        sa.UniqueConstraint("config_id", "name", name="uq_production_variants_config_id_name"),
    )
    op.create_index("ix_production_variants_model_id", "production_variants", ["model_id"])

    op.create_table(
        "endpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("config_id", sa.Integer(), nullable=False),
        sa.Column("pending_config_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("last_modified_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["config_id"], ["endpoint_configs.id"], name="fk_endpoints_config_id_endpoint_configs"
        ),
        sa.ForeignKeyConstraint(
            ["pending_config_id"],
            ["endpoint_configs.id"],
            name="fk_endpoints_pending_config_id_endpoint_configs",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_endpoints"),
        sa.UniqueConstraint("name", name="uq_endpoints_name"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_endpoints_config_id", "endpoints", ["config_id"])
    op.create_index("ix_endpoints_pending_config_id", "endpoints", ["pending_config_id"])

    op.create_table(
        "variant_states",
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("desired_weight", sa.Double(), nullable=False),
        sa.Column("desired_instance_count", sa.Integer(), nullable=False),
        sa.Column("current_weight", sa.Double(), nullable=True),
        sa.Column("current_instance_count", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"], ["endpoints.id"], name="fk_variant_states_endpoint_id_endpoints"
        ),
        sa.PrimaryKeyConstraint("endpoint_id", "position", name="pk_variant_states"),
        sa.UniqueConstraint("endpoint_id", "name", name="uq_variant_states_endpoint_id_name"),
    )


def downgrade() -> None:
    op.drop_table("variant_states")
    op.drop_table("endpoints")
    op.drop_table("production_variants")
    op.drop_table("endpoint_configs")
    op.drop_table("models")

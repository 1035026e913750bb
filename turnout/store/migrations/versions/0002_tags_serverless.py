"""tags of models, endpoint configs and endpoints; serverless config of a variant

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

Frozen: never import the live schema here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("production_variants") as batch:
        batch.add_column(sa.Column("serverless_config", sa.JSON(none_as_null=True), nullable=True))
    op.create_table(
        "tags",
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "name", "key", name="pk_tags"),
    )


def downgrade() -> None:
    op.drop_table("tags")
    with op.batch_alter_table("production_variants") as batch:
        batch.drop_column("serverless_config")

"""multi-model endpoints: a model's container mode, the rollups' model-cache counts (ADR 0037)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07

Frozen: never import the live schema here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.add_column(sa.Column("mode", sa.Text(), nullable=False, server_default="SingleModel"))
    with op.batch_alter_table("rollups") as batch:
        batch.add_column(sa.Column("multi_model", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rollups") as batch:
        batch.drop_column("multi_model")
    with op.batch_alter_table("models") as batch:
        batch.drop_column("mode")

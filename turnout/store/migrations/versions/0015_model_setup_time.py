"""serverless endpoints: ModelSetupTime (cold starts) in the metric rollups (ADR 0038)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07

Frozen: never import the live schema here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("rollups") as batch:
        batch.add_column(sa.Column("model_setup_time", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rollups") as batch:
        batch.drop_column("model_setup_time")

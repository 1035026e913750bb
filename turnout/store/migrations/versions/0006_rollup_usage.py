"""instances' CPU and memory utilization in metric rollups

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25

Frozen: never import the live schema here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("rollups") as batch:
        batch.add_column(sa.Column("cpu_percent", sa.Double, nullable=True))
        batch.add_column(sa.Column("memory_percent", sa.Double, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rollups") as batch:
        batch.drop_column("memory_percent")
        batch.drop_column("cpu_percent")

"""per-user quotas

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_quotas",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("training_minutes_per_month", sa.Integer(), nullable=False),
        sa.Column("evaluation_minutes_per_month", sa.Integer(), nullable=False),
        sa.Column("concurrent_jobs", sa.Integer(), nullable=False),
        sa.Column("models", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )


def downgrade() -> None:
    op.drop_table("user_quotas")

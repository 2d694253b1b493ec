"""races and their submissions (community races)

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import deepracer_console.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "races",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("track", sa.String(length=128), nullable=False),
        sa.Column("direction", sa.String(length=32), nullable=False),
        sa.Column("race_type", sa.String(length=32), nullable=False),
        sa.Column("opens_at", deepracer_console.db.UTCDateTime(), nullable=False),
        sa.Column("closes_at", deepracer_console.db.UTCDateTime(), nullable=False),
        sa.Column("ranking", sa.String(length=32), nullable=False),
        sa.Column("minimum_laps", sa.Integer(), nullable=False),
        sa.Column("laps", sa.Integer(), nullable=False),
        sa.Column("off_track_penalty_s", sa.Float(), nullable=False),
        sa.Column("resets", sa.Integer(), nullable=False),
        sa.Column("submissions_per_day", sa.Integer(), nullable=False),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("invite_token", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", deepracer_console.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "race_submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("race_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("racer", sa.String(length=64), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=True),
        sa.Column("evaluation_id", sa.Integer(), nullable=True),
        sa.Column("score_ms", sa.Integer(), nullable=True),
        sa.Column("created_at", deepracer_console.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["race_id"], ["races.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["evaluation_id"], ["evaluations.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("evaluation_id"),
    )
    op.create_index("ix_race_submissions_race_id", "race_submissions", ["race_id"])
    op.create_index("ix_race_submissions_user_id", "race_submissions", ["user_id"])
    op.create_index("ix_race_submissions_created_at", "race_submissions", ["created_at"])


def downgrade() -> None:
    op.drop_table("race_submissions")
    op.drop_table("races")

"""physical races (the timekeeper: racer queue, attempts, their event log) and the cars registry

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import deepracer_console.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("races") as batch:
        batch.add_column(sa.Column("physical", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("race_time_s", sa.Integer(), nullable=False, server_default="120"))
        batch.add_column(sa.Column("timer_token_hash", sa.String(length=64), nullable=True))
    op.create_table(
        "cars",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("token_secret", sa.Text(), nullable=False),
        sa.Column("token_hint", sa.String(length=8), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", deepracer_console.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "race_queue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("race_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", deepracer_console.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["race_id"], ["races.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_race_queue_race_id", "race_queue", ["race_id"])
    op.create_table(
        "race_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("race_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("racer", sa.String(length=64), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=True),
        sa.Column("car_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("race_time_ms", sa.Integer(), nullable=False),
        sa.Column("resets_per_lap", sa.Integer(), nullable=False),
        sa.Column("laps", sa.JSON(), nullable=False),
        sa.Column("score_ms", sa.Integer(), nullable=True),
        sa.Column("timer_offset_ms", sa.BigInteger(), nullable=True),
        sa.Column("created_at", deepracer_console.db.UTCDateTime(), nullable=False),
        sa.Column("ended_at", deepracer_console.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["race_id"], ["races.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["car_id"], ["cars.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_race_attempts_race_id", "race_attempts", ["race_id"])
    op.create_table(
        "attempt_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("lap_id", sa.Integer(), nullable=True),
        sa.Column("undone", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("timer_event_id", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", deepracer_console.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["attempt_id"], ["race_attempts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("attempt_id", "seq", name="uq_attempt_events_seq"),
        sa.UniqueConstraint("attempt_id", "timer_event_id", name="uq_attempt_events_timer_event"),
    )


def downgrade() -> None:
    op.drop_table("attempt_events")
    op.drop_table("race_attempts")
    op.drop_index("ix_race_queue_race_id", table_name="race_queue")
    op.drop_table("race_queue")
    op.drop_table("cars")
    with op.batch_alter_table("races") as batch:
        batch.drop_column("timer_token_hash")
        batch.drop_column("race_time_s")
        batch.drop_column("physical")

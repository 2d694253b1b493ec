"""quotas: global defaults, overrides that fall back to them, storage, the minutes ledger;
model names unique per owner

Revision ID: 0006
Revises: 0005

- models gain owner_key (the owner's user id from model_owners; 0 for models made without an
  account) and storage_bytes (0: measured at the next start); the unique index on name becomes
  a unique constraint on (owner_key, name). Existing names were unique across all users, so no
  existing pair collides.
- user_quotas: the columns may be NULL (= the global default) and gain storage_mb. Before this
  revision there were no global defaults and -1 was the default, so an existing -1 becomes NULL.
- quota_defaults (one row once an admin saves defaults) and quota_usage (the minutes ledger),
  filled with one record per existing job of an owned model: reserved as the job did (a
  training its model's max_minutes, an evaluation 20) and, for a job that ended, used = its
  run time capped at the reservation.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import deepracer_console.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

KINDS = ("training_minutes_per_month", "evaluation_minutes_per_month", "concurrent_jobs", "models")
EVALUATION_MINUTES = 20


def upgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.drop_index("ix_models_name")
        batch.add_column(sa.Column("owner_key", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("storage_bytes", sa.BigInteger(), nullable=False, server_default="0"))
    op.execute("UPDATE models SET owner_key = (SELECT user_id FROM model_owners WHERE model_owners.model_id = models.id) "
               "WHERE EXISTS (SELECT 1 FROM model_owners WHERE model_owners.model_id = models.id)")
    with op.batch_alter_table("models") as batch:
        batch.create_index("ix_models_name", ["name"], unique=False)
        batch.create_unique_constraint("uq_models_owner_name", ["owner_key", "name"])

    with op.batch_alter_table("user_quotas") as batch:
        for kind in KINDS:
            batch.alter_column(kind, existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("storage_mb", sa.Integer(), nullable=True))
    for kind in KINDS:
        op.execute(f"UPDATE user_quotas SET {kind} = NULL WHERE {kind} = -1")

    op.create_table(
        "quota_defaults",
        sa.Column("id", sa.Integer(), nullable=False),
        *[sa.Column(kind, sa.Integer(), nullable=False) for kind in (*KINDS, "storage_mb")],
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "quota_usage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("model_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("reserved_minutes", sa.Float(), nullable=False),
        sa.Column("used_minutes", sa.Float(), nullable=True),
        sa.Column("created_at", deepracer_console.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_quota_usage_user_id", "quota_usage", ["user_id"])
    op.create_index("ix_quota_usage_job_id", "quota_usage", ["job_id"])
    op.create_index("ix_quota_usage_created_at", "quota_usage", ["created_at"])
    _backfill_ledger()


def _backfill_ledger() -> None:
    from deepracer_console.db import UTCDateTime

    conn = op.get_bind()
    jobs = sa.table("jobs", sa.column("id"), sa.column("kind"), sa.column("model_id"), sa.column("state"),
                    sa.column("created_at", UTCDateTime()), sa.column("started_at", UTCDateTime()),
                    sa.column("finished_at", UTCDateTime()))
    models = sa.table("models", sa.column("id"), sa.column("max_minutes"))
    owners = sa.table("model_owners", sa.column("model_id"), sa.column("user_id"))
    usage = sa.table("quota_usage", sa.column("user_id"), sa.column("job_id"), sa.column("model_id"),
                     sa.column("kind"), sa.column("reserved_minutes"), sa.column("used_minutes"),
                     sa.column("created_at", UTCDateTime()))
    rows = conn.execute(sa.select(jobs.c.id, jobs.c.kind, jobs.c.model_id, jobs.c.state, jobs.c.created_at,
                                  jobs.c.started_at, jobs.c.finished_at, models.c.max_minutes, owners.c.user_id)
                        .join(models, models.c.id == jobs.c.model_id)
                        .join(owners, owners.c.model_id == jobs.c.model_id)).all()
    records = []
    for job_id, kind, model_id, state, created, started, finished, max_minutes, user_id in rows:
        training = kind == "train"
        reserved = float(max_minutes or 0) if training else float(EVALUATION_MINUTES)
        used = None
        if state in ("finished", "failed"):
            ran = (finished - started).total_seconds() / 60.0 if started and finished else 0.0
            used = round(min(reserved, max(0.0, ran)), 3)
        records.append({"user_id": user_id, "job_id": job_id, "model_id": model_id,
                        "kind": "training_minutes_per_month" if training else "evaluation_minutes_per_month",
                        "reserved_minutes": reserved, "used_minutes": used, "created_at": created})
    if records:
        conn.execute(usage.insert(), records)


def downgrade() -> None:
    op.drop_index("ix_quota_usage_created_at", table_name="quota_usage")
    op.drop_index("ix_quota_usage_job_id", table_name="quota_usage")
    op.drop_index("ix_quota_usage_user_id", table_name="quota_usage")
    op.drop_table("quota_usage")
    op.drop_table("quota_defaults")
    for kind in KINDS:
        op.execute(f"UPDATE user_quotas SET {kind} = -1 WHERE {kind} IS NULL")
    with op.batch_alter_table("user_quotas") as batch:
        batch.drop_column("storage_mb")
        for kind in KINDS:
            batch.alter_column(kind, existing_type=sa.Integer(), nullable=False)
    # names unique across all users again: fails (and says so) while two owners share a name
    with op.batch_alter_table("models") as batch:
        batch.drop_constraint("uq_models_owner_name", type_="unique")
        batch.drop_index("ix_models_name")
        batch.drop_column("storage_bytes")
        batch.drop_column("owner_key")
        batch.create_index("ix_models_name", ["name"], unique=True)

"""models, evaluations, jobs

Revision ID: 0001
Revises: (none)
Create Date: 2026-12-01 08:41:49.589763
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import deepracer_console.db

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('models',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('track', sa.String(length=128), nullable=False),
    sa.Column('direction', sa.String(length=32), nullable=False),
    sa.Column('race_type', sa.String(length=32), nullable=False),
    sa.Column('algorithm', sa.String(length=16), nullable=False),
    sa.Column('network', sa.String(length=32), nullable=False),
    sa.Column('action_space_type', sa.String(length=16), nullable=False),
    sa.Column('action_space', sa.JSON(), nullable=False),
    sa.Column('hyperparameters', sa.JSON(), nullable=False),
    sa.Column('reward_function', sa.Text(), nullable=False),
    sa.Column('max_minutes', sa.Integer(), nullable=False),
    sa.Column('max_steps', sa.Integer(), nullable=True),
    sa.Column('clone_of', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('failure_reason', sa.Text(), nullable=True),
    sa.Column('trained_seconds', sa.Float(), nullable=False),
    sa.Column('best_progress', sa.Float(), nullable=True),
    sa.Column('best_lap_time_s', sa.Float(), nullable=True),
    sa.Column('created_at', deepracer_console.db.UTCDateTime(), nullable=False),
    sa.Column('started_at', deepracer_console.db.UTCDateTime(), nullable=True),
    sa.Column('finished_at', deepracer_console.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['clone_of'], ['models.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('models', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_models_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_models_name'), ['name'], unique=True)
        batch_op.create_index(batch_op.f('ix_models_status'), ['status'], unique=False)

    op.create_table('evaluations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('model_id', sa.Integer(), nullable=False),
    sa.Column('track', sa.String(length=128), nullable=False),
    sa.Column('direction', sa.String(length=32), nullable=False),
    sa.Column('race_type', sa.String(length=32), nullable=False),
    sa.Column('trials', sa.Integer(), nullable=False),
    sa.Column('off_track_penalty_s', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('failure_reason', sa.Text(), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('has_video', sa.Boolean(), nullable=False),
    sa.Column('created_at', deepracer_console.db.UTCDateTime(), nullable=False),
    sa.Column('finished_at', deepracer_console.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evaluations_model_id'), ['model_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evaluations_status'), ['status'], unique=False)

    op.create_table('jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('model_id', sa.Integer(), nullable=True),
    sa.Column('evaluation_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('resume', sa.Boolean(), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.Column('log_path', sa.Text(), nullable=False),
    sa.Column('exit_code', sa.Integer(), nullable=True),
    sa.Column('failure_reason', sa.Text(), nullable=True),
    sa.Column('stop_requested_at', deepracer_console.db.UTCDateTime(), nullable=True),
    sa.Column('created_at', deepracer_console.db.UTCDateTime(), nullable=False),
    sa.Column('started_at', deepracer_console.db.UTCDateTime(), nullable=True),
    sa.Column('finished_at', deepracer_console.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['evaluation_id'], ['evaluations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_model_id'), ['model_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_state'), ['state'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_state'))
        batch_op.drop_index(batch_op.f('ix_jobs_model_id'))

    op.drop_table('jobs')
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evaluations_status'))
        batch_op.drop_index(batch_op.f('ix_evaluations_model_id'))

    op.drop_table('evaluations')
    with op.batch_alter_table('models', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_models_status'))
        batch_op.drop_index(batch_op.f('ix_models_name'))
        batch_op.drop_index(batch_op.f('ix_models_created_at'))

    op.drop_table('models')

"""models: the first small network is named small-v1

Revision ID: 0007
Revises: 0006

`small` now names a cheaper small network (deepracer/train/networks.py). Every model stored
before this revision with network `small` was trained with the first one, whose weights a clone
of it must load; it becomes `small-v1`, which builds that network.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sa.text("UPDATE models SET network = 'small-v1' WHERE network = 'small'"))


def downgrade() -> None:
    op.execute(sa.text("UPDATE models SET network = 'small' WHERE network = 'small-v1'"))

"""list_event.split: the benchmark split of one AVE Annotations row

The AVE release splits rows, not videos: 18 of its 45 multi-event videos have rows in two
splits, so the split of a row cannot live on the clip. Set by `avel clips import-split`.

Revision ID: 0003
Revises: 0002
Create Date: (written by hand)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("list_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("split", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("list_event", schema=None) as batch_op:
        batch_op.drop_column("split")

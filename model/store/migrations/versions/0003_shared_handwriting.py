"""Visitors may share their collection with the owner; the owner reviews what is shared.

`collections.shared_at`: when its visitor turned sharing on (NULL: not
shared; withdrawing sets it back to NULL). `samples.review`: the owner's
decision on a shared sample ("removed" from training, or "kept" although
flagged); NULL until the owner decides.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("collections") as table:
        table.add_column(sa.Column("shared_at", sa.String(32), nullable=True))
    with op.batch_alter_table("samples") as table:
        table.add_column(sa.Column("review", sa.String(8), nullable=True))
    op.create_index("collections_shared", "collections", ["shared_at"])


def downgrade() -> None:
    op.drop_index("collections_shared", "collections")
    with op.batch_alter_table("samples") as table:
        table.drop_column("review")
    with op.batch_alter_table("collections") as table:
        table.drop_column("shared_at")

"""A default saved in the database keeps the page's weights and its card; its `.keras` file is not needed.

The owner's "Save as default" is a transaction in the web server, which has
no Keras to make a `.keras` file; rows saved before keep theirs, unused.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("default_networks") as table:
        table.alter_column("keras", existing_type=sa.LargeBinary, nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM default_networks WHERE keras IS NULL")
    with op.batch_alter_table("default_networks") as table:
        table.alter_column("keras", existing_type=sa.LargeBinary, nullable=False)

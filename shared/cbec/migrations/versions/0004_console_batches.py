"""The web console's import drafts, batches and 运单准备 hand-off parcels (their personal data encrypted).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08

In the schema ``<prefix>console`` (``console_service.stores.console_tables`` defines the same tables for a
development database that makes its own).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels = None
depends_on = None


def _schema() -> str:
    return str(op.get_context().config.attributes["schema_prefix"]) + "console"  # type: ignore[union-attr]


def upgrade() -> None:
    schema = _schema()
    op.create_table(
        "console_drafts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(100), nullable=False),
        sa.Column("enterprise", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        schema=schema, if_not_exists=True,
    )
    op.create_table(
        "console_batches",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("owner", sa.String(100), nullable=False),
        sa.Column("enterprise", sa.String(40), nullable=False),
        sa.Column("doc_type", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done", sa.Boolean, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        schema=schema, if_not_exists=True,
    )
    op.create_table(
        "console_handoffs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("warehouse", sa.String(40), nullable=False),
        sa.Column("courier", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.String(20), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        schema=schema, if_not_exists=True,
    )


def downgrade() -> None:
    schema = _schema()
    for table in ("console_handoffs", "console_batches", "console_drafts"):
        op.drop_table(table, schema=schema, if_exists=True)

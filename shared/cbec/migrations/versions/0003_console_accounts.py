"""The web console's users, their memberships and the enterprises' environments (sandbox/production).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08

In the schema ``<prefix>console`` (``console_service.accounts.SqlAccounts`` defines the same tables
for a development database that makes its own).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None


def _schema() -> str:
    return str(op.get_context().config.attributes["schema_prefix"]) + "console"  # type: ignore[union-attr]


def upgrade() -> None:
    schema = _schema()
    op.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    op.create_table(
        "console_users",
        sa.Column("username", sa.String(100), primary_key=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("platform_operator", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema, if_not_exists=True,
    )
    op.create_table(
        "console_memberships",
        sa.Column("username", sa.String(100), primary_key=True),
        sa.Column("enterprise", sa.String(40), primary_key=True),
        sa.Column("role", sa.String(20), nullable=False),
        schema=schema, if_not_exists=True,
    )
    op.create_table(
        "console_enterprises",
        sa.Column("enterprise", sa.String(40), primary_key=True),
        sa.Column("environment", sa.String(20), nullable=False),
        sa.Column("changed_by", sa.String(100), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema, if_not_exists=True,
    )


def downgrade() -> None:
    op.execute(f'DROP SCHEMA IF EXISTS "{_schema()}" CASCADE')

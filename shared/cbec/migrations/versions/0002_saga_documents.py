"""The saga's document table behind the held / past-deadline gauges (``saga_service.metrics``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-08

Created empty: the saga fills it from its log once at start (it marks the table filled with a row
whose clearance is empty), so an upgraded database gets the rows of the clearances it already holds.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None


def _schema() -> str:
    return str(op.get_context().config.attributes["schema_prefix"]) + "saga"  # type: ignore[union-attr]


def upgrade() -> None:
    op.execute(f'CREATE TABLE IF NOT EXISTS "{_schema()}"."saga_documents" (clearance TEXT NOT NULL,'
               " kind TEXT NOT NULL, doc_type TEXT NOT NULL, held_for TEXT, receipt_due BIGINT,"
               " PRIMARY KEY (clearance, kind))")


def downgrade() -> None:
    op.execute(f'DROP TABLE IF EXISTS "{_schema()}"."saga_documents"')

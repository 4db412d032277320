"""The read model's index of the clearances a document spanning several names (its ``clearanceKeys``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08

Each declaration service's ``<service>_document_clearances`` (``cbec.readmodel.tables.ReadModel``):
clearance key -> the 运抵单, 离境单, 总分单, 汇总申请单, entry list or 退运理货单 naming it, so a listing finds
them by clearance (``GET /v1/documents?spansClearance=``). The services owning such documents (logistics,
inventory) fold their streams again to fill it: their projection's position goes back to the start, each
row is rewritten unchanged and its clearances stored (a replayed row refreshes them).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels = None
depends_on = None

DECLARATION_SERVICES = ("order", "payment", "logistics", "inventory")
SPANNING = ("logistics", "inventory")  # the owners of documents that name several clearances


def _prefix() -> str:
    return str(op.get_context().config.attributes["schema_prefix"])  # type: ignore[union-attr]


def upgrade() -> None:
    prefix = _prefix()
    for service in DECLARATION_SERVICES:
        schema = prefix + service
        op.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))").bindparams(
            key=f"cbec-readmodel-ddl:{schema}.{service}"))  # with a read model making its own tables
        op.create_table(
            f"{service}_document_clearances",
            sa.Column("stream_id", sa.String(36), primary_key=True),
            sa.Column("clearance_key", sa.String(200), primary_key=True),
            schema=schema, if_not_exists=True,
        )
        op.create_index(f"ix_{service}_document_clearances_key", f"{service}_document_clearances",
                        ["clearance_key", "stream_id"], schema=schema, if_not_exists=True)
        if service in SPANNING:
            op.execute(f'UPDATE "{schema}"."{service}_readmodel_tracking" SET position = 0'
                       f" WHERE name = 'documents'")


def downgrade() -> None:
    prefix = _prefix()
    for service in DECLARATION_SERVICES:
        op.drop_table(f"{service}_document_clearances", schema=prefix + service, if_exists=True)

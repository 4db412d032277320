"""Re-encrypt the console's stored drafts, batches and hand-off parcels under the newest personal-data key
(``cbec reencrypt-pii console``), after a key rotation, so the old key can retire.

Only each row's sealed ``body`` changes (the same JSON, the ring's newest key). The job goes through
each table in id order, a transaction per batch, and is idempotent and resumable: a row already under
the newest key is left alone, so a second run (or one after an interruption) changes only what is left.
A row the console changes meanwhile is not overwritten: the update applies only while the row still
holds the body that was read (the console seals every change under the newest key itself). A body
that opens with no key of the ring is reported by table and id with the cipher's reason (which names
a key id, never content) and left as it is; nothing of a body is ever printed or logged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from cbec.privacy.cipher import AesGcmCipher, CipherError
from sqlalchemy import Table, inspect, select, update

from console_service.stores import ConsoleTables

Progress = Callable[[str], None]


@dataclass
class Unreadable:
    """A row whose body opens with no key of the ring: where it is and why (no content)."""

    table: str
    id: str
    reason: str


@dataclass
class Rekeyed:
    """What a run did, per table: rows read, rows re-encrypted; and the rows it could not open."""

    read: dict[str, int] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)
    unreadable: list[Unreadable] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # tables not in this database (no console ran here)

    @property
    def total(self) -> int:
        return sum(self.changed.values())


def reencrypt_console(tables: ConsoleTables, *, batch: int = 200, progress: Progress = lambda _: None) -> Rekeyed:
    """Move every body of ``tables`` not under the newest key of ``tables.cipher`` to it; ``progress`` hears a
    line per batch."""
    out = Rekeyed()
    names = set(inspect(tables.engine).get_table_names(schema=tables.metadata.schema))
    for table in (tables.drafts, tables.batches, tables.handoffs):
        if table.name not in names:
            out.missing.append(table.name)
            continue
        _table(tables, table, batch, progress, out)
    return out


def _table(tables: ConsoleTables, table: Table, batch: int, progress: Progress, out: Rekeyed) -> None:
    cipher, after = tables.cipher, ""
    out.read[table.name] = out.changed[table.name] = 0
    while True:
        with tables.engine.begin() as conn:
            rows = conn.execute(select(table.c.id, table.c.body).where(table.c.id > after)
                                .order_by(table.c.id).limit(batch)).all()
            if not rows:
                return
            for row in rows:
                old = bytes(row.body)
                new = _rotated(cipher, old, table.name, str(row.id), out)
                if new is None:
                    continue
                done = conn.execute(update(table).where(table.c.id == row.id, table.c.body == old).values(body=new))
                out.changed[table.name] += done.rowcount  # 0: the console changed it meanwhile, sealed anew
        after = str(rows[-1].id)
        out.read[table.name] += len(rows)
        progress(f"{table.name}: {out.read[table.name]} rows read, {out.changed[table.name]} re-encrypted")


def _rotated(cipher: AesGcmCipher, body: bytes, table: str, row_id: str, out: Rekeyed) -> bytes | None:
    """``body`` under the newest key; None when it is there already or opens with no key of the ring."""
    try:
        if not cipher.needs_rotation(body):
            cipher.decrypt(body)  # under the newest key already; a body that does not open is still reported
            return None
        return cipher.rotate(body)
    except CipherError as error:
        out.unreadable.append(Unreadable(table, row_id, str(error)))
        return None

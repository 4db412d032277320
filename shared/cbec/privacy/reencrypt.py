"""Re-encrypt a service's stored events under the newest personal-data key, after a key rotation.

Events stay immutable: only the encryption envelope of each stored state changes (same plaintext,
newest key), so the old key can be retired once the job has run. The job is resumable and idempotent:
rows already under the newest key are left alone.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable

import psycopg
from psycopg import sql

from cbec.privacy.cipher import AesGcmCipher

Row = tuple[int, bytes]


def reencrypt(url: str, *, schema: str, name: str, cipher: AesGcmCipher, batch: int = 500) -> int:
    """Re-encrypt every event of service ``name`` whose key is not the ring's newest; return how many."""
    if url.startswith(("postgresql://", "postgres://")):
        return _postgres(url, schema, f"{name}_events", cipher, batch)
    if url.startswith("sqlite:///"):
        return _sqlite(url[len("sqlite:///"):], f"{name}_events", cipher, batch)
    raise ValueError(f"unsupported event store URL scheme: {url.split(':', 1)[0]!r}")


def _rotate(rows: Iterable[Row], cipher: AesGcmCipher) -> list[tuple[bytes, int]]:
    return [(cipher.rotate(bytes(state)), nid) for nid, state in rows if cipher.needs_rotation(bytes(state))]


def _run(fetch: Callable[[int], list[Row]], update: Callable[[list[tuple[bytes, int]]], None],
         cipher: AesGcmCipher) -> int:
    changed, after = 0, 0
    while rows := fetch(after):
        rotated = _rotate(rows, cipher)
        if rotated:
            update(rotated)
            changed += len(rotated)
        after = rows[-1][0]
    return changed


def _postgres(url: str, schema: str, table: str, cipher: AesGcmCipher, batch: int) -> int:
    name = sql.Identifier(schema, table)
    select = sql.SQL("SELECT notification_id, state FROM {} WHERE notification_id > %s "
                     "ORDER BY notification_id LIMIT %s").format(name)
    update = sql.SQL("UPDATE {} SET state = %s WHERE notification_id = %s").format(name)
    with psycopg.connect(url) as conn:
        def fetch(after: int) -> list[Row]:
            return [(int(n), bytes(s)) for n, s in conn.execute(select, (after, batch)).fetchall()]

        def write(rows: list[tuple[bytes, int]]) -> None:
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(update, rows)

        return _run(fetch, write, cipher)


def _sqlite(path: str, table: str, cipher: AesGcmCipher, batch: int) -> int:
    if not table.replace("_", "").isalnum():
        raise ValueError(f"not a table name: {table!r}")
    conn = sqlite3.connect(path)
    try:
        def fetch(after: int) -> list[Row]:
            # The library's SQLite table numbers its notifications by rowid.
            cur = conn.execute(f"SELECT rowid, state FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?",
                               (after, batch))
            return [(int(n), bytes(s)) for n, s in cur.fetchall()]

        def write(rows: list[tuple[bytes, int]]) -> None:
            with conn:
                conn.executemany(f"UPDATE {table} SET state = ? WHERE rowid = ?", rows)

        return _run(fetch, write, cipher)
    finally:
        conn.close()

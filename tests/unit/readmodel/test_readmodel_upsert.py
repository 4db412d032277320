"""A projection round writes all its rows in one upsert: a later event updates a row and its parties, a
replayed (older or equal) one changes nothing, not even the parties."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from cbec.readmodel.tables import DocumentRow, ReadModel

PLATFORM, PAYER, CARRIER = "3105960001", "3105960002", "3105960003"


def row(n: int, sequence: int, status: str, parties: frozenset[str]) -> DocumentRow:
    return DocumentRow(stream_id=f"00000000-0000-0000-0000-{n:012d}", doc_type="CEB311",
                       business_key=(PLATFORM, f"ORDER-{n}"), status=status, status_code=None, phase="released",
                       clearance_key=f"{PLATFORM}:ORDER-{n}", sender=PLATFORM, parties=parties, created_seq=n,
                       sequence=sequence, updated_at=datetime(2026, 12, 8, 12, sequence, tzinfo=UTC))


def stored(model: ReadModel, n: int) -> DocumentRow | None:
    return model.get(f"00000000-0000-0000-0000-{n:012d}")


def test_one_upsert_inserts_updates_and_ignores_replays() -> None:
    model = ReadModel.open("sqlite://", "order")
    first, second = row(1, 3, "released", frozenset({PLATFORM})), row(2, 4, "released", frozenset({PLATFORM}))
    with model.engine.begin() as conn:
        model.upsert_many(conn, [first, second])

    later = replace(first, sequence=5, status="customs accepted (120)", status_code=120,
                    parties=frozenset({PLATFORM, PAYER}))
    replayed = replace(second, sequence=4, status="a replay must not show", parties=frozenset({CARRIER}))
    new = row(3, 6, "held", frozenset({CARRIER}))
    with model.engine.begin() as conn:
        model.upsert_many(conn, [later, replayed, new])

    assert stored(model, 1) == later
    assert stored(model, 2) == second, "an event at or behind the stored one is a replay"
    assert stored(model, 3) == new
    assert [r.business_key[1] for r in model.list(PAYER).items] == ["ORDER-1"]
    assert [r.business_key[1] for r in model.list(CARRIER).items] == ["ORDER-3"]


def test_an_empty_round_writes_nothing() -> None:
    model = ReadModel.open("sqlite://", "order")
    with model.engine.begin() as conn:
        model.upsert_many(conn, [])
    assert model.list(PLATFORM).items == []

"""The listing filters the console searches with: a part of the number, one clearance, a date range, still
only the caller's own documents and still paged by cursor."""

from __future__ import annotations

from datetime import UTC, datetime

from cbec.readmodel.tables import DocumentRow, ReadModel

ME, OTHER = "3105960001", "3105960009"


def row(n: int, number: str, day: int, parties: frozenset[str] = frozenset({ME})) -> DocumentRow:
    return DocumentRow(stream_id=f"00000000-0000-0000-0000-{n:012d}", doc_type="CEB311", business_key=(ME, number),
                       status="customs accepted (120)", status_code=120, phase="sent",
                       clearance_key=f"{ME}:{number}", sender=ME, parties=parties, created_seq=n, sequence=n,
                       updated_at=datetime(2026, 12, day, 12, tzinfo=UTC))


def model() -> ReadModel:
    readmodel = ReadModel.open("sqlite://", "order")
    with readmodel.engine.begin() as conn:
        rows = [row(1, "A_100", 1), row(2, "A%200", 2), row(3, "B-300", 3), row(4, "A_100-X", 4, frozenset({OTHER}))]
        for item in rows:
            readmodel.upsert(conn, item)
    return readmodel


def numbers(page: object) -> list[str]:
    return [r.business_key[1] for r in page.items]  # type: ignore[attr-defined]


def test_a_number_matches_literally_and_only_among_the_callers_documents() -> None:
    readmodel = model()
    assert numbers(readmodel.list(ME, number="A_1")) == ["A_100"]  # "_" is no wildcard; A_100-X is another's
    assert numbers(readmodel.list(ME, number="%")) == ["A%200"]
    assert numbers(readmodel.list(ME, clearance_key=f"{ME}:B-300")) == ["B-300"]


def test_a_date_range_includes_its_start_and_excludes_its_end_and_pages_by_cursor() -> None:
    readmodel = model()
    page = readmodel.list(ME, updated_from=datetime(2026, 12, 2, tzinfo=UTC),
                          updated_before=datetime(2026, 12, 4, tzinfo=UTC), limit=1)
    assert numbers(page) == ["B-300"] and page.next_cursor
    rest = readmodel.list(ME, updated_from=datetime(2026, 12, 2, tzinfo=UTC),
                          updated_before=datetime(2026, 12, 4, tzinfo=UTC), limit=1, cursor=page.next_cursor)
    assert numbers(rest) == ["A%200"] and rest.next_cursor is None

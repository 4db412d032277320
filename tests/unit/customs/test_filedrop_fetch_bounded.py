"""A DXP inbox full of large files is read a bounded batch at a time, never all at once."""

from __future__ import annotations

from pathlib import Path

from cbec.ceb.safe_xml import MAX_BYTES
from cbec.customs import filedrop
from cbec.customs.filedrop import FileDropLink


def test_fetch_reads_at_most_its_byte_budget_and_the_rest_on_later_calls(tmp_path: Path) -> None:
    link = FileDropLink(tmp_path / "out", tmp_path / "in")
    for n in range(5):
        (link.inbox / f"{n}.xml").write_bytes(b"x" * (filedrop.FETCH_BYTES // 2))
    seen: list[str] = []
    for _ in range(5):
        batch = link.fetch()
        assert sum(len(r.data) for r in batch) <= filedrop.FETCH_BYTES
        for received in batch:
            seen.append(received.name)
            link.acknowledge(received.name)
    assert seen == [f"{n}.xml" for n in range(5)]


def test_a_file_over_the_parse_limit_is_read_only_one_byte_past_it(tmp_path: Path) -> None:
    link = FileDropLink(tmp_path / "out", tmp_path / "in")
    (link.inbox / "huge.xml").write_bytes(b"<" * (MAX_BYTES + 1_000_000))
    [(name, data, problem)] = link.fetch()
    assert name == "huge.xml" and len(data) == MAX_BYTES + 1 and problem == ""

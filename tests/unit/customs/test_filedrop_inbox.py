"""The DXP inbox holds only what is not yet recorded: recorded receipt files move to a dated archive,
rejected ones to quarantine, partial files are never read, and a restart reads only what waits."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from cbec.ceb import codec
from cbec.ceb.model import CebMessage
from cbec.ceb.safe_xml import MAX_BYTES
from cbec.ceb.tables import IMPORT
from cbec.customs import filedrop
from cbec.customs.filedrop import FileDropLink
from cbec.declaration.doctypes import ORDER
from cbec_testkit.memory import InMemoryDeclarationStore
from cbec_testkit.tenants import demo_registry
from receipts_service.application import RECEIPT_FILE_REJECTED, RECEIPT_RECEIVED, CustomsLinkApp

DAY = "20261207"


def _receipt(n: int, status: str = "120") -> bytes:
    node = {i.name: "1" * (i.min_len or 1) for i in IMPORT.nodes[ORDER.return_node].items}
    node.update(orderNo=f"ORDER{n:06d}", returnStatus=status, returnTime=f"20261207100000{n % 1000:03d}",
                returnInfo="ok", guid=f"{n:08d}-0000-0000-0000-000000000000")
    return codec.build(CebMessage(type="CEB312", docs=[node], guid=node["guid"]))


def _name(n: int) -> str:
    return f"CEB312Message_3105960001_20261207100000_{n:05d}.xml"


class Inbox:
    """A link (file drop + customs link app on an in-memory store) over ``root``'s folders."""

    def __init__(self, root: Path, store: InMemoryDeclarationStore | None = None) -> None:
        self.store = store or InMemoryDeclarationStore()
        self.link = FileDropLink(root / "outbox", root / "inbox", today=lambda: DAY)
        self.app = CustomsLinkApp(self.store, self.link, demo_registry())

    def drop(self, name: str, data: bytes) -> Path:
        path = self.link.inbox / name
        path.write_bytes(data)
        return path

    def events(self, event_type: str) -> list[dict[str, object]]:
        return [data for _, _, t, data in self.store.log if t == event_type]

    def waiting(self) -> list[str]:
        return [p.name for p in self.link.receipts()]


def test_recorded_receipt_files_move_to_the_dated_archive(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path)
    for n in range(3):
        inbox.drop(_name(n), _receipt(n))
    assert inbox.app.poll_inbox() == 3
    assert inbox.waiting() == []
    assert sorted(p.name for p in (inbox.link.inbox / "archive" / DAY).iterdir()) == [_name(n) for n in range(3)]
    assert inbox.app.poll_inbox() == 0 and len(inbox.events(RECEIPT_RECEIVED)) == 3


def test_a_file_recorded_but_not_yet_moved_is_read_again_and_changes_nothing(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path)
    inbox.drop(_name(1), _receipt(1))
    assert inbox.app.ingest_message(_name(1), _receipt(1)) == 1  # recorded, then the process died
    restarted = Inbox(tmp_path, inbox.store)
    assert restarted.app.poll_inbox() == 0  # the repeat is recognised ...
    assert restarted.waiting() == [] and len(restarted.link.archived()) == 1  # ... and archived
    assert len(restarted.events(RECEIPT_RECEIVED)) == 1


def test_hostile_files_are_recorded_as_rejected_and_quarantined_not_read_forever(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path)
    inbox.drop("CEB312Message_not_xml.xml", b"this is no XML")
    inbox.drop("CEB312Message_oversize.xml", b"<" * (MAX_BYTES + 10))
    os.mkfifo(inbox.link.inbox / "CEB312Message_fifo.xml")  # would block a plain open() for ever
    (inbox.link.inbox / "CEB312Message_link.xml").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "secret.txt").write_text("not for the event store")
    inbox.drop(_name(7), _receipt(7))
    assert inbox.app.poll_inbox() == 1  # the good file among them is kept
    rejected = {str(e["fileName"]): str(e["error"]) for e in inbox.events(RECEIPT_FILE_REJECTED)}
    assert sorted(rejected) == ["CEB312Message_fifo.xml", "CEB312Message_link.xml", "CEB312Message_not_xml.xml",
                                "CEB312Message_oversize.xml"]
    assert "not a regular file" in rejected["CEB312Message_fifo.xml"]
    assert "not for the event store" not in rejected["CEB312Message_link.xml"]
    assert inbox.waiting() == []
    assert sorted(p.name for p in (inbox.link.inbox / "quarantine" / DAY).iterdir()) == sorted(rejected)
    assert inbox.app.poll_inbox() == 0 and len(inbox.events(RECEIPT_FILE_REJECTED)) == 4


def test_partial_files_are_never_read(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path)
    inbox.drop(f".{_name(1)}.part", _receipt(1))  # still being written
    assert inbox.link.fetch() == [] and inbox.app.poll_inbox() == 0
    os.replace(inbox.link.inbox / f".{_name(1)}.part", inbox.link.inbox / _name(1))  # the writer finished
    assert inbox.app.poll_inbox() == 1


def test_a_repeated_file_name_does_not_overwrite_the_archived_one(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path)
    inbox.drop(_name(1), _receipt(1, "2"))
    inbox.app.poll_inbox()
    inbox.drop(_name(1), _receipt(1, "120"))  # the same name again, other content
    assert inbox.app.poll_inbox() == 1
    assert sorted(p.name for p in inbox.link.archived()) == [_name(1), _name(1) + ".1"]


def _generated_archive(inbox: Path, files: int) -> None:
    """``files`` archived receipt files (empty: only their number matters) over a few days."""
    for day in range(5):
        (inbox / "archive" / f"2026-11-{day + 1:02d}").mkdir(parents=True)
    for n in range(files):
        os.close(os.open(inbox / "archive" / f"2026-11-{n % 5 + 1:02d}" / _name(n), os.O_CREAT | os.O_WRONLY))


def _restart_cost(root: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], int]:
    """Start a link on ``root`` and poll until it is idle: (files read, directory entries listed)."""
    read: list[str] = []
    listed = [0]
    real_read, real_scandir = filedrop.read_limited, os.scandir

    def counting_read(path: Path, limit: int) -> bytes:
        read.append(path.name)
        return real_read(path, limit)

    class CountingScandir:
        def __init__(self, path: Path) -> None:
            self.entries = real_scandir(path)

        def __enter__(self) -> CountingScandir:
            return self

        def __exit__(self, *_: object) -> None:
            self.entries.close()

        def __iter__(self) -> CountingScandir:
            return self

        def __next__(self) -> os.DirEntry[str]:
            entry = next(self.entries)
            listed[0] += 1
            return entry

    monkeypatch.setattr(filedrop, "read_limited", counting_read)
    monkeypatch.setattr(filedrop.os, "scandir", CountingScandir)
    inbox = Inbox(root)
    while inbox.app.inbox_round():
        pass
    monkeypatch.undo()
    return read, listed[0]


def test_a_restart_after_many_receipts_reads_only_what_waits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    costs = {}
    for archived in (100, 20_000):
        root = tmp_path / str(archived)
        (root / "inbox").mkdir(parents=True)
        _generated_archive(root / "inbox", archived)
        waiting = random.Random(archived).sample(range(archived, archived + 1000), 5)
        for n in waiting:
            (root / "inbox" / _name(n)).write_bytes(_receipt(n))
        costs[archived] = _restart_cost(root, monkeypatch)
        assert sorted(costs[archived][0]) == sorted(_name(n) for n in waiting)
    (small_read, small_listed), (large_read, large_listed) = costs[100], costs[20_000]
    assert len(small_read) == len(large_read) == 5
    assert small_listed == large_listed  # the archive is never listed: the same few entries either way

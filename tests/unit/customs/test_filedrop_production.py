"""The file drop in production: receipts archived by day as `archive/<yyyyMMdd>/`, the outbox cleaned by
what the DXP client confirms or archived after N days, and nothing read again after a restart."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from cbec.customs.filedrop import FileDropLink, waiting_files, write_atomically
from cbec.settings import Settings
from receipts_service import bootstrap as receipts

DAY = 86400.0


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _sent(link: FileDropLink, name: str, age_days: float = 0.0) -> Path:
    path = write_atomically(link.outbox, name, b"<DxpMsg/>")
    when = time.time() - age_days * DAY
    os.utime(path, (when, when))
    return path


def _name(n: int) -> str:
    return f"CEB311Message_3105960001_20261207120000_{n:05d}.xml"


def test_a_recorded_receipt_is_archived_under_the_day_written_yyyymmdd(tmp_path: Path) -> None:
    link = FileDropLink(tmp_path / "outbox", tmp_path / "inbox")
    write_atomically(link.inbox, "CEB312Message_a.xml", b"<r/>")

    link.acknowledge("CEB312Message_a.xml")

    [archived] = link.archived()
    assert re.fullmatch(r"\d{8}", archived.parent.name) and archived.parent.parent == link.archive


def test_receipts_archived_in_the_earlier_dashed_layout_are_still_listed(tmp_path: Path) -> None:
    link = FileDropLink(tmp_path / "outbox", tmp_path / "inbox", today=lambda: "20261207")
    write_atomically(link.inbox / "archive" / "2026-12-06", "CEB312Message_old.xml", b"<r/>")
    write_atomically(link.inbox, "CEB312Message_new.xml", b"<r/>")

    link.acknowledge("CEB312Message_new.xml")

    assert [(p.parent.name, p.name) for p in link.archived()] == [
        ("20261207", "CEB312Message_new.xml"), ("2026-12-06", "CEB312Message_old.xml")]


def test_files_the_dxp_client_confirmed_leave_the_outbox_for_the_archive(tmp_path: Path) -> None:
    sent = tmp_path / "dxp-client-sent"
    link = FileDropLink(tmp_path / "outbox", tmp_path / "inbox", sent=sent, today=lambda: "20261207")
    for n in range(3):
        _sent(link, _name(n))
    write_atomically(sent, _name(0), b"<DxpMsg/>")  # the client confirms what it delivered by a copy
    write_atomically(sent, _name(2), b"<DxpMsg/>")

    assert link.tidy_outbox() == 2

    assert waiting_files(link.outbox) == [_name(1)]  # not confirmed yet: the client may still take it
    assert [p.name for p in link.outbox_archived()] == [_name(0), _name(2)]
    assert {p.parent.name for p in link.outbox_archived()} == {"20261207"}
    assert sorted(p.name for p in sent.iterdir()) == [_name(0), _name(2)]  # the client's folder is its own


def test_files_left_in_the_outbox_longer_than_the_kept_days_are_archived(tmp_path: Path) -> None:
    link = FileDropLink(tmp_path / "outbox", tmp_path / "inbox", keep_days=7)
    _sent(link, _name(1), age_days=8)
    _sent(link, _name(2), age_days=6)

    assert link.tidy_outbox() == 1

    assert waiting_files(link.outbox) == [_name(2)]
    assert [p.name for p in link.outbox_archived()] == [_name(1)]


def test_the_outbox_is_looked_at_from_the_inbox_poll_at_most_once_per_period(tmp_path: Path) -> None:
    clock = Clock()
    link = FileDropLink(tmp_path / "outbox", tmp_path / "inbox", keep_days=1, tidy_every=3600, clock=clock)
    link.fetch()  # the first poll of a process tidies at once
    _sent(link, _name(1), age_days=2)

    link.fetch()
    assert waiting_files(link.outbox) == [_name(1)]  # within the hour: not looked at again

    clock.now += 3601
    link.fetch()
    assert waiting_files(link.outbox) == [] and len(link.outbox_archived()) == 1


def test_a_restarted_link_reads_nothing_it_recorded_before(tmp_path: Path) -> None:
    link = FileDropLink(tmp_path / "outbox", tmp_path / "inbox")
    for n in range(3):
        write_atomically(link.inbox, f"CEB312Message_{n}.xml", b"<r/>")
    for received in link.fetch():
        link.acknowledge(received.name)
    write_atomically(link.inbox, "CEB312Message_late.xml", b"<r/>")

    restarted = FileDropLink(tmp_path / "outbox", tmp_path / "inbox")

    assert [r.name for r in restarted.fetch()] == ["CEB312Message_late.xml"]


def test_the_settings_give_the_dxp_client_folder_and_the_kept_days(tmp_path: Path) -> None:
    settings = Settings.from_environ({"CBEC_DXP_OUTBOX": str(tmp_path / "o"), "CBEC_DXP_INBOX": str(tmp_path / "i"),
                                      "CBEC_DXP_SENT": str(tmp_path / "sent"), "CBEC_DXP_OUTBOX_KEEP_DAYS": "3"})

    link = receipts.transport(settings)

    assert isinstance(link, FileDropLink) and link.sent == tmp_path / "sent" and link.keep_days == 3

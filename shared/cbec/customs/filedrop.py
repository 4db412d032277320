"""DXP file-drop transport: signed DxpMsg files into an outbox folder, receipts out of an inbox folder.

The inbox holds only what is not yet recorded: once a receipt file's events are committed, the file
moves to ``<inbox>/archive/<yyyyMMdd>/`` (a file recorded as rejected to
``<inbox>/quarantine/<yyyyMMdd>/``; the day in China Standard Time, as in DXP file names; folders of the
earlier ``<yyyy-mm-dd>`` layout stay readable), so a poll lists and reads only what arrived since the
last one, and a restart costs the same after a hundred receipts as after a hundred thousand. A crash
between the record and the move leaves the file in the inbox: it is read again and its ingest is
deduplicated. Partial files (``.name.part``, and any name starting with a dot) are never read.

The outbox is kept clean (:meth:`FileDropLink.tidy_outbox`, at most once per ``tidy_every`` seconds,
from the inbox poll): a DXP client that moves what it sent out of the outbox needs nothing; one that
confirms by a copy in its send-backup folder (``sent``) has the confirmed files moved from the outbox to
``<outbox>/archive/<yyyyMMdd>/``; any file still in the outbox after ``keep_days`` (the client never took
or confirmed it) is archived there too, with a warning. Only the outbox's own entries are looked at.

Outgoing files are staged first: written and synced under ``<outbox>/.cbec-staging/<ticket>~<name>``,
where the DXP client does not look, while the customs link records the transmission; after the commit
they are renamed into the outbox (:meth:`FileDropLink.hand_over`). The rename is atomic, so a staged
file is either still staged or handed over, never both or half: whatever happens to the commit or the
process, the link can settle each staged file by its record (``CustomsLinkApp.settle_staged``).
"""

from __future__ import annotations

import logging
import os
import random
import stat
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import NamedTuple

from cbec.ceb.dxp import dxp_file_name
from cbec.ceb.safe_xml import MAX_BYTES

log = logging.getLogger(__name__)

SYNC_CHUNK = 128  # files written (descriptors open) at a time by write_all_atomically
FETCH_BYTES = 64 * 1024 * 1024  # read per fetch() at most (one file always, whatever its size)
ARCHIVE = "archive"  # <inbox>/archive/<yyyyMMdd>/: receipt files whose events are recorded (outbox: sent)
QUARANTINE = "quarantine"  # <inbox>/quarantine/<yyyyMMdd>/: files recorded as rejected
DAY_FORMAT = "%Y%m%d"  # archive and quarantine day folders (before: %Y-%m-%d, still read by archived())
CST = timezone(timedelta(hours=8))
TIDY_EVERY = 3600.0  # seconds between two looks at the outbox
IDLE_WAIT = 0.5  # seconds an idle inbox poller sleeps before it looks again
STAGING = ".cbec-staging"  # <outbox>/.cbec-staging/: written and synced, not yet handed to the DXP client
TICKET_SEPARATOR = "~"


class Received(NamedTuple):
    """One message fetched from a transport; ``problem`` says why it could not be read ("" if it was)."""

    name: str
    data: bytes
    problem: str = ""


class Staged(NamedTuple):
    """An outgoing message kept aside until its transmission is recorded: ``ticket`` names the record
    that decides whether it is handed over or discarded."""

    ticket: str
    name: str
    data: bytes = b""


def write_atomically(folder: Path, name: str, data: bytes) -> Path:
    """Write ``folder/name`` so that a reader never sees a partial file (temp file + rename)."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.part"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    final = folder / name
    os.replace(tmp, final)
    return final


def write_all_atomically(folder: Path, files: Sequence[tuple[str, bytes]],
                         pool: ThreadPoolExecutor | None = None) -> list[Path]:
    """Write several files so that a reader never sees a partial one, with one folder sync.

    Each file's bytes reach the disk under a ``.name.part`` name first (so a power cut can never
    leave a visible name with missing content), then all are renamed and the folder is synced
    once: after a crash a file is either complete under its name or absent (left as ``.part``).
    With a ``pool`` the data syncs run in parallel: the file system commits them together, a
    fraction of the time of one sync after the other.
    """
    if not files:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    for start in range(0, len(files), SYNC_CHUNK):  # bounds the open descriptors
        fds = []
        try:
            for name, data in files[start:start + SYNC_CHUNK]:
                fds.append(os.open(folder / f".{name}.part", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))
                view = memoryview(data)
                while view:
                    view = view[os.write(fds[-1], view):]
            if pool is not None and len(fds) > 1:
                list(pool.map(os.fdatasync, fds))
            else:
                for fd in fds:
                    os.fdatasync(fd)
        finally:
            for fd in fds:
                os.close(fd)
    out = []
    for name, _ in files:
        final = folder / name
        os.replace(folder / f".{name}.part", final)
        out.append(final)
    sync_folder(folder)
    return out


def sync_folder(folder: Path) -> None:
    """Make the folder's entries (renames) durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def waiting_files(folder: Path) -> list[str]:
    """Names of the ``*.xml`` entries directly in ``folder``, sorted (dot-names, i.e. partial files,
    and sub-folders are left out). One ``scandir``: the cost is what the folder holds now."""
    try:
        with os.scandir(folder) as entries:
            return sorted(e.name for e in entries
                          if e.name.endswith(".xml") and not e.name.startswith(".") and not e.is_dir())
    except FileNotFoundError:
        return []


def read_limited(path: Path, limit: int) -> bytes:
    """At most ``limit`` bytes of a regular file; raises ``OSError`` for anything else (a symlink, a
    FIFO, a device) without blocking on it."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path.name} is not a regular file")
        chunks = []
        left = limit
        while left > 0:
            chunk = os.read(fd, min(left, 1024 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def move_aside(folder: Path, name: str, target: Path) -> Path | None:
    """Move ``folder/name`` into ``target`` (made if missing) without replacing a file there (a
    repeated name gets a ``.N`` suffix); ``None`` if the file is gone (moved by someone else)."""
    target.mkdir(parents=True, exist_ok=True)
    dest = target / name
    n = 0
    while dest.exists():
        n += 1
        dest = target / f"{name}.{n}"
    try:
        os.rename(folder / name, dest)
    except FileNotFoundError:
        return None
    return dest


def _staged_name(staged: Staged) -> str:
    return f"{staged.ticket}{TICKET_SEPARATOR}{staged.name}"


def seed_file_name(msg_type: str, customs_code: str, when: datetime, seq: int) -> str:
    """``CEB311Message_<10-digit code>_<yyyyMMddHHmmss>_<5 digits>.xml`` (seed 000 naming rule)."""
    return dxp_file_name(msg_type, customs_code, when, seq % 100000)


class FileDropLink:
    """One DXP exchange directory pair: ``outbox`` (to customs) and ``inbox`` (from customs), with
    the inbox's ``archive`` and ``quarantine`` folders (see the module docstring)."""

    def __init__(self, outbox: Path, inbox: Path, *, rng: random.Random | None = None,
                 idle_wait: float = IDLE_WAIT, today: Callable[[], str] | None = None, sent: Path | None = None,
                 keep_days: float = 30.0, tidy_every: float = TIDY_EVERY,
                 clock: Callable[[], float] = time.time) -> None:
        self.outbox = outbox
        self.inbox = inbox
        self.archive = inbox / ARCHIVE
        self.quarantine_dir = inbox / QUARANTINE
        self.outbox_archive = outbox / ARCHIVE
        self.sent = sent
        self.keep_days = keep_days
        self.tidy_every = tidy_every
        self.idle_wait = idle_wait
        self._clock = clock
        self._next_tidy = float("-inf")
        self._today = today or (lambda: datetime.now(CST).strftime(DAY_FORMAT))
        self._rng = rng or random.Random()
        self._names_this_second: tuple[str, set[str]] = ("", set())
        self._stuck: set[str] = set()  # could not be moved away: not read again by this process
        self._sync_pool: ThreadPoolExecutor | None = None
        outbox.mkdir(parents=True, exist_ok=True)
        inbox.mkdir(parents=True, exist_ok=True)

    def free_name(self, msg_type: str, customs_code: str, when: datetime) -> str:
        """A seed-rule file name not yet used (the 5-digit part is random): not in the outbox and not
        handed out before in the same second (customs may have taken that file already)."""
        second = when.strftime("%Y%m%d%H%M%S")
        if self._names_this_second[0] != second:
            self._names_this_second = (second, set())
        used = self._names_this_second[1]
        for _ in range(1000):
            name = seed_file_name(msg_type, customs_code, when, self._rng.randrange(100000))
            if name not in used and not (self.outbox / name).exists():
                used.add(name)
                return name
        raise RuntimeError("no free DXP file name in this second")

    def transmit(self, name: str, data: bytes) -> Path:
        return write_atomically(self.outbox, name, data)

    def transmit_many(self, files: Sequence[tuple[str, bytes]]) -> None:
        """Drop several files for customs with one folder sync (see :func:`write_all_atomically`)."""
        if len(files) > 1 and self._sync_pool is None:
            self._sync_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="dxp-sync")
        write_all_atomically(self.outbox, files, self._sync_pool)

    @property
    def staging(self) -> Path:
        return self.outbox / STAGING

    def stage(self, files: Sequence[Staged]) -> None:
        """Write and sync ``files`` where customs does not see them yet (one folder sync)."""
        if len(files) > 1 and self._sync_pool is None:
            self._sync_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="dxp-sync")
        write_all_atomically(self.staging, [(_staged_name(f), f.data) for f in files], self._sync_pool)

    def hand_over(self, files: Sequence[Staged]) -> int:
        """Move staged files into the outbox (an atomic rename each, one folder sync); a file no longer
        staged (settled meanwhile) is skipped. Returns how many were handed over."""
        moved = 0
        for f in files:
            try:
                os.rename(self.staging / _staged_name(f), self.outbox / f.name)
                moved += 1
            except FileNotFoundError:
                log.warning("staged %s is gone; not handed over again", f.name)
        if moved:
            sync_folder(self.outbox)
        return moved

    def discard(self, files: Sequence[Staged]) -> None:
        """Remove staged files whose transmission was not recorded."""
        for f in files:
            (self.staging / _staged_name(f)).unlink(missing_ok=True)

    def staged(self) -> list[tuple[Staged, float]]:
        """What is staged (without its bytes) and how many seconds ago it was written."""
        now = time.time()
        out: list[tuple[Staged, float]] = []
        try:
            with os.scandir(self.staging) as entries:
                for entry in entries:
                    ticket, sep, name = entry.name.partition(TICKET_SEPARATOR)
                    if entry.name.startswith(".") or not sep or not entry.is_file():
                        continue
                    try:
                        age = now - entry.stat().st_mtime
                    except FileNotFoundError:
                        continue
                    out.append((Staged(ticket, name), age))
        except FileNotFoundError:
            return []
        return out

    def fetch(self) -> list[Received]:
        """Receipt files waiting in the inbox, oldest name first, at most ``FETCH_BYTES`` per call
        (the rest on the next call): an inbox full of large files never sits in memory at once. A
        file over ``MAX_BYTES`` is read only that far plus one byte, which the parser refuses as
        oversize (``CBEC-XML-SIZE``); one that cannot be read comes with its ``problem``."""
        if self._clock() >= self._next_tidy:
            self.tidy_outbox()
        out: list[Received] = []
        total = 0
        for name in waiting_files(self.inbox):
            if name in self._stuck:
                continue
            if out and total >= FETCH_BYTES:
                break
            try:
                data = read_limited(self.inbox / name, MAX_BYTES + 1)
            except FileNotFoundError:
                continue  # taken by another reader meanwhile
            except OSError as error:
                out.append(Received(name, b"", f"unreadable: {type(error).__name__}: {error.strerror or error}"))
                continue
            out.append(Received(name, data))
            total += len(data)
        return out

    def acknowledge(self, name: str) -> None:
        """``name``'s receipts are recorded: it moves to the archive."""
        self._move(name, self.archive)

    def quarantine(self, name: str) -> None:
        """``name`` is recorded as rejected: it moves to the quarantine folder."""
        self._move(name, self.quarantine_dir)

    def idle(self) -> float:
        """How long an idle poller may wait before fetching again."""
        return self.idle_wait

    def tidy_outbox(self) -> int:
        """Archive the outbox files the DXP client confirmed (a copy in ``sent``) or left longer than
        ``keep_days`` (``<= 0``: never); returns how many moved. Errors are logged, never raised: the
        inbox poll that calls this must go on."""
        self._next_tidy = self._clock() + self.tidy_every
        moved = stale = 0
        oldest = self._clock() - self.keep_days * 86400 if self.keep_days > 0 else float("-inf")
        target = self.outbox_archive / self._today()
        for name in waiting_files(self.outbox):
            try:
                confirmed = self.sent is not None and (self.sent / name).is_file()
                old = not confirmed and (self.outbox / name).stat().st_mtime < oldest
                if (confirmed or old) and move_aside(self.outbox, name, target) is not None:
                    moved += 1
                    stale += old
            except OSError as error:
                log.warning("cannot archive %s from the outbox (%s)", name, type(error).__name__)
        if stale:
            log.warning("archived %d outbox files the DXP client did not take within %g days", stale, self.keep_days)
        return moved

    def outbox_archived(self) -> list[Path]:
        """Every outbox file archived (confirmed by the DXP client, or left too long), in name order."""
        return sorted(self.outbox_archive.glob("*/*.xml*"), key=lambda p: p.name)

    def receipts(self) -> list[Path]:
        """Receipt files waiting in the inbox, oldest name first (partial files are never listed)."""
        return [self.inbox / name for name in waiting_files(self.inbox)]

    def archived(self) -> list[Path]:
        """Every receipt file the link has recorded (the archive, both day layouts), in name order."""
        return sorted(self.archive.glob("*/*.xml*"), key=lambda p: p.name)

    def _move(self, name: str, root: Path) -> None:
        try:
            move_aside(self.inbox, name, root / self._today())
        except OSError as error:
            log.warning("cannot move %s out of the inbox (%s); this process will not read it again", name,
                        type(error).__name__)
            self._stuck.add(name)

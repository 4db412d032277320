"""DXP file-drop transport: signed DxpMsg files into an outbox folder, receipts out of an inbox folder."""

from __future__ import annotations

import os
import random
from datetime import datetime
from pathlib import Path

from cbec.ceb.dxp import dxp_file_name
from cbec.ceb.safe_xml import MAX_BYTES

FETCH_BYTES = 64 * 1024 * 1024  # read per fetch() at most (one file always, whatever its size)


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


def seed_file_name(msg_type: str, customs_code: str, when: datetime, seq: int) -> str:
    """``CEB311Message_<10-digit code>_<yyyyMMddHHmmss>_<5 digits>.xml`` (seed 000 naming rule)."""
    return dxp_file_name(msg_type, customs_code, when, seq % 100000)


class FileDropLink:
    """One DXP exchange directory pair: ``outbox`` (to customs) and ``inbox`` (from customs)."""

    def __init__(self, outbox: Path, inbox: Path, *, rng: random.Random | None = None) -> None:
        self.outbox = outbox
        self.inbox = inbox
        self._rng = rng or random.Random()
        self._acknowledged: set[str] = set()  # files are kept; a restart re-reads them (ingest dedupes)
        outbox.mkdir(parents=True, exist_ok=True)
        inbox.mkdir(parents=True, exist_ok=True)

    def free_name(self, msg_type: str, customs_code: str, when: datetime) -> str:
        """A seed-rule file name not yet used in the outbox (the 5-digit part is random)."""
        for _ in range(1000):
            name = seed_file_name(msg_type, customs_code, when, self._rng.randrange(100000))
            if not (self.outbox / name).exists():
                return name
        raise RuntimeError("no free DXP file name in this second")

    def transmit(self, name: str, data: bytes) -> Path:
        return write_atomically(self.outbox, name, data)

    def fetch(self) -> list[tuple[str, bytes]]:
        """Receipt files in the inbox not yet acknowledged by this process, as (name, bytes), oldest
        first, at most ``FETCH_BYTES`` per call (the rest on the next call): an inbox full of large
        files never sits in memory at once. A file over ``MAX_BYTES`` is read only that far plus one
        byte, which the parser refuses as oversize (``CBEC-XML-SIZE``)."""
        out: list[tuple[str, bytes]] = []
        total = 0
        for path in self.receipts():
            if path.name in self._acknowledged:
                continue
            if out and total >= FETCH_BYTES:
                break
            with path.open("rb") as f:
                data = f.read(MAX_BYTES + 1)
            out.append((path.name, data))
            total += len(data)
        return out

    def acknowledge(self, name: str) -> None:
        self._acknowledged.add(name)

    def receipts(self) -> list[Path]:
        """Receipt files waiting in the inbox, oldest name first (partial files are never listed)."""
        return sorted(p for p in self.inbox.glob("*.xml") if not p.name.startswith("."))

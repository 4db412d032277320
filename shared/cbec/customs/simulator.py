"""A customs simulator: reads the DXP outbox, checks each message as customs would, writes receipts.

It runs in process (the embedded demo and tests call ``poll()``) or as its own process
(``cbec run simulator``), keeping a journal of the files it has answered so that it
answers each exactly once across restarts.
"""

from __future__ import annotations

import heapq
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from cbec.ceb import codec, dxp
from cbec.ceb.model import CebMessage
from cbec.ceb.tables import IMPORT
from cbec.ceb.xsd import xsd_errors
from cbec.customs.filedrop import seed_file_name, write_atomically
from cbec.declaration.doctypes import BY_CODE

log = logging.getLogger(__name__)

CST = timezone(timedelta(hours=8))
CUSTOMS_IMPORT_DXP_ID = "DXPEDCCEB0000002"
SIGNATURE_FAILURE_CODE = {"CEB621": "-621029", "CEB623": "-623029"}


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    code: str = ""
    reason: str = ""


def verify_with_product_verifier(xml: bytes) -> Verdict:
    """Check the enveloped signature (spec-2022 profile first, then the e-port client one)."""
    from cbec.signing.xmldsig import verify_document

    result = verify_document(xml)
    return Verdict(bool(result.ok), str(getattr(result, "code", "") or ""), str(result.reason))


@dataclass(order=True)
class _Pending:
    due: float
    seq: int
    receipt_type: str = field(compare=False)
    node: dict[str, Any] = field(compare=False)
    reply_to: str = field(compare=False)
    cop_code: str = field(compare=False)


@dataclass
class SimulatorConfig:
    accept_delay: float = 0.0  # seconds from status 2 to status 120
    first_delay: float = 0.0  # seconds until status 2


class CustomsSimulator:
    """Customs behind a file drop: one answer per file, receipts in the order customs would send them."""

    def __init__(
        self,
        outbox: Path,
        inbox: Path,
        *,
        verify: Callable[[bytes], Verdict] = verify_with_product_verifier,
        config: SimulatorConfig | None = None,
        journal: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
    ) -> None:
        self.outbox = outbox
        self.inbox = inbox
        self.verify = verify
        self.config = config or SimulatorConfig()
        self.clock = clock
        self.now = now
        self.rng = rng or random.Random(7)
        self.journal = journal
        self.seen: set[str] = set()
        self.arrivals: list[tuple[str, str, str]] = []  # (file name, message type, business key)
        self._queue: list[_Pending] = []
        self._seq = 0
        self._last_stamp = ""
        self._ms = 0
        if journal is not None and journal.exists():
            self.seen.update(journal.read_text(encoding="utf-8").split())

    # -- the loop ---------------------------------------------------------------------------------
    def poll(self) -> int:
        """Answer every new outbox file, then write the receipts that are due; returns work done."""
        work = 0
        for path in sorted(self.outbox.glob("*.xml")):
            if path.name.startswith(".") or path.name in self.seen:
                continue
            self._answer(path.name, path.read_bytes())
            self._remember(path.name)
            work += 1
        work += self._flush_due()
        return work

    @property
    def idle(self) -> bool:
        return not self._queue

    def run_forever(self, interval: float = 0.2, stop: Callable[[], bool] = lambda: False) -> None:
        while not stop():
            if not self.poll():
                time.sleep(interval)

    # -- answering --------------------------------------------------------------------------------
    def _answer(self, name: str, raw: bytes) -> None:
        try:
            envelope = dxp.unwrap(raw)
        except Exception as exc:  # noqa: BLE001 - any unreadable envelope is a format error
            self._format_error(name, "", "", f"DxpMsg unreadable: {exc}", "0001", reply_to="")
            return
        business = envelope.data
        msg_type = envelope.msg_type.removesuffix("Message")
        problems = xsd_errors(business, "import")
        if problems:
            self._format_error(
                name,
                envelope.cop_msg_id,
                envelope.msg_type,
                "; ".join(problems[:3]),
                "0002",
                reply_to=envelope.sender_id,
            )
            return
        msg = codec.parse(business)
        doc_type = BY_CODE.get(msg.type)
        if doc_type is None:
            self._format_error(
                name,
                envelope.cop_msg_id,
                envelope.msg_type,
                f"{msg.type} is not accepted here",
                "0999",
                reply_to=envelope.sender_id,
            )
            return
        verdict = self.verify(business)
        cop_code = (msg.base_transfer or {}).get("copCode", "0000000000")
        for doc in msg.docs:
            head = doc_type.head_of(doc)
            self.arrivals.append((name, msg_type, ":".join(doc_type.business_key(doc))))
            if not verdict.ok:
                code = SIGNATURE_FAILURE_CODE.get(msg.type)
                if code is None:
                    self._format_error(
                        name,
                        envelope.cop_msg_id,
                        envelope.msg_type,
                        f"signature check failed: {verdict.reason}",
                        verdict.code or "1001",
                        reply_to=envelope.sender_id,
                    )
                else:
                    self._receipt(
                        doc_type.code,
                        head,
                        code,
                        f"签名验证失败: {verdict.reason}",
                        0.0,
                        envelope.sender_id,
                        cop_code,
                    )
                continue
            self._receipt(
                doc_type.code,
                head,
                "2",
                "电子口岸申报中",
                self.config.first_delay,
                envelope.sender_id,
                cop_code,
            )
            self._receipt(
                doc_type.code,
                head,
                "120",
                "海关入库",
                self.config.first_delay + self.config.accept_delay,
                envelope.sender_id,
                cop_code,
            )

    def _receipt(
        self,
        code: str,
        head: dict[str, Any],
        status: str,
        info: str,
        delay: float,
        reply_to: str,
        cop_code: str,
    ) -> None:
        doc_type = BY_CODE[code]
        node: dict[str, Any] = {}
        for item in IMPORT.nodes[doc_type.return_node].items:
            if item.name == "returnStatus":
                node[item.name] = status
            elif item.name == "returnTime":
                node[item.name] = ""  # stamped when written, so later receipts carry later times
            elif item.name == "returnInfo":
                node[item.name] = info
            elif item.name in head:
                node[item.name] = head[item.name]
        receipt_type = doc_type.receipt_code
        self._schedule(delay, receipt_type, node, reply_to, cop_code)

    def _format_error(
        self, name: str, cop_msg_id: str, msg_type: str, info: str, code: str, reply_to: str
    ) -> None:
        node = {
            "guid": str(uuid.uuid4()).upper(),
            "returnStatus": code,
            "returnInfo": info[:1000],
            "returnTime": "",
            "oriCopMsgId": cop_msg_id or name,
            "oriMessageType": msg_type or "unknown",
            "oriBizMessage": name,
        }
        self._schedule(0.0, "CEB900", node, reply_to, "0000000000")

    def _schedule(
        self, delay: float, receipt_type: str, node: dict[str, Any], reply_to: str, cop_code: str
    ) -> None:
        self._seq += 1
        heapq.heappush(
            self._queue, _Pending(self.clock() + delay, self._seq, receipt_type, node, reply_to, cop_code)
        )

    def _flush_due(self) -> int:
        written = 0
        while self._queue and self._queue[0].due <= self.clock():
            item = heapq.heappop(self._queue)
            receipt_type, reply_to, cop_code, node = (
                item.receipt_type,
                item.reply_to,
                item.cop_code,
                item.node,
            )
            node["returnTime"] = self._return_time()
            msg = CebMessage(type=receipt_type, docs=[node], guid=str(uuid.uuid4()).upper())
            business = codec.build(msg)
            when = self.now()
            wrapped = dxp.wrap(
                business,
                msg_type=f"{receipt_type}Message",
                sender_id=CUSTOMS_IMPORT_DXP_ID,
                receiver_ids=[reply_to or "DXPENT0000000000"],
                created=when,
            )
            name = seed_file_name(receipt_type, cop_code[:10], when, self.rng.randrange(100000))
            while (self.inbox / name).exists():
                name = seed_file_name(receipt_type, cop_code[:10], when, self.rng.randrange(100000))
            write_atomically(self.inbox, name, wrapped)
            written += 1
        return written

    def _return_time(self) -> str:
        """yyyyMMddHHmmssSSS in CST, strictly increasing so receipt order is never ambiguous."""
        stamp = self.now().astimezone(CST)
        text = stamp.strftime("%Y%m%d%H%M%S") + f"{stamp.microsecond // 1000:03d}"
        if text <= self._last_stamp:
            text = str(int(self._last_stamp) + 1)
        self._last_stamp = text
        return text

    def _remember(self, name: str) -> None:
        self.seen.add(name)
        if self.journal is not None:
            self.journal.parent.mkdir(parents=True, exist_ok=True)
            with open(self.journal, "a", encoding="utf-8") as f:
                f.write(name + "\n")

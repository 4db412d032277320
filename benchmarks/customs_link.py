"""CPU of the customs link per document, in this process (``time.process_time()``):

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/cbec python benchmarks/customs_link.py --documents 400

(without DATABASE_URL: SQLite in a temporary folder). Transmit: ``--documents`` sign results through
the service's consumer handler, one message per call and then as consumer batches of ``--batch``
(each in one transaction, files written after the commit). Ingest: the simulator answers them (no
checks: ``verify`` off) and the link records the receipt files, one file per transaction and then a
poll's files in one transaction. Idle: the CPU of a poll with nothing new, after ``--archived``
receipt files went through the inbox (it must not grow with them). The simulator's own CPU is
measured apart. Each figure is in the same run, so the per-message paths are the baseline.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from cbec.bus.ports import Message
from cbec.contracts import topics
from cbec.contracts.signing import SignResult
from cbec.customs.filedrop import FileDropLink
from cbec.declaration import ceb_bridge
from cbec.declaration.doctypes import ORDER
from cbec.settings import Settings
from cbec.store.event_store import EventStore
from cbec.store.outbox import NOTIFICATION_HEADER, SOURCE_HEADER
from cbec_testkit.customs.simulator import CustomsSimulator, SimulatorConfig
from cbec_testkit.samples import declare_orders
from cbec_testkit.tenants import demo_registry
from receipts_service import bootstrap
from receipts_service.application import CustomsLinkApp


def sign_results(count: int, first: int, source: str = "signer") -> list[Message]:
    """``count`` sign results for orders as the signer's relay publishes them."""
    out = []
    for n, command in enumerate(declare_orders(count, start=first), start=first):
        document = command.document
        document["OrderHead"].update(guid=str(uuid.uuid4()).upper(), appType="1", appTime="20261124100000",
                                     appStatus="2")
        xml = ceb_bridge.render(ORDER, document, {"copCode": "3105960001", "copName": "示例", "dxpMode": "DXP",
                                                  "dxpId": "DXPENT0000000001"})
        result = SignResult(f"CEB311:bench-{n}:2", "3105960001", "CEB311", f"3105960001:B{n:08d}", True,
                            base64.b64encode(xml).decode())
        out.append(Message(topics.SIGN_RESULTS, 0, n, result.clearance_key, result.to_json(),
                           {SOURCE_HEADER: source, NOTIFICATION_HEADER: str(n)}))
    return out


class Bench:
    def __init__(self, url: str, root: Path) -> None:
        self.store = EventStore.open(url, schema=f"bench{uuid.uuid4().hex[:8]}", name="receipts")
        self.link = FileDropLink(root / "outbox", root / "inbox")
        service = bootstrap.build(Settings.from_environ({"CBEC_PII_HMAC_KEY": "bench"}), demo_registry(),
                                  self.store, self.link)
        self.app: CustomsLinkApp = service.app
        handler = service.consumes[0].batch_handler
        assert handler is not None
        self.handle: Callable[[Sequence[Message]], None] = handler
        self.simulator = CustomsSimulator(root / "outbox", root / "inbox", config=SimulatorConfig(verify=False),
                                          rng=random.Random(3))
        self.simulator_cpu = 0.0

    def transmit(self, messages: list[Message], batch: int) -> float:
        started = time.process_time()
        for i in range(0, len(messages), batch):
            self.handle(messages[i:i + batch])
        return (time.process_time() - started) / len(messages)

    def answer(self) -> int:
        started = time.process_time()
        while self.simulator.poll():
            pass
        self.simulator_cpu += time.process_time() - started
        return len(self.link.receipts())

    def ingest(self, per_file: bool) -> float:
        files = self.answer()
        started = time.process_time()
        if per_file:
            for path in self.link.receipts():
                self.app.ingest(path)
                self.link.acknowledge(path.name)
        else:
            while self.app.inbox_round():
                pass
        return (time.process_time() - started) / max(files, 1)

    def idle_poll(self, rounds: int = 50) -> float:
        started = time.process_time()
        for _ in range(rounds):
            self.app.inbox_round()
        return (time.process_time() - started) / rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=400)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--archived", type=int, default=2000,
                        help="receipt files through the inbox before the idle poll")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="cbec-link-bench-"))
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{root / 'receipts.db'}"
    bench = Bench(url, root)
    n = args.documents
    bench.transmit(sign_results(20, 1_000_000, "warm-up"), 5)  # warm up (imports, parsers, connections): not counted
    bench.ingest(per_file=False)
    bench.simulator_cpu = 0.0
    one = bench.transmit(sign_results(n, 1), 1)
    per_file = bench.ingest(per_file=True)
    batched = bench.transmit(sign_results(n, n + 1), args.batch)
    polled = bench.ingest(per_file=False)
    print(f"transmit: {one * 1000:.2f} ms CPU per document one message at a time, "
          f"{batched * 1000:.2f} ms in batches of {args.batch}")
    print(f"ingest: {per_file * 1000:.2f} ms CPU per receipt file one file per transaction, "
          f"{polled * 1000:.2f} ms a poll's files per transaction")
    small, documents = bench.idle_poll(), 2 * n
    while 2 * documents < args.archived:
        step = min(n, max(1, (args.archived - 2 * documents) // 2))
        bench.transmit(sign_results(step, documents + 1), args.batch)
        bench.ingest(per_file=False)
        documents += step
    large = bench.idle_poll()
    print(f"idle poll: {small * 1e6:.0f} µs CPU after {4 * n} receipt files, {large * 1e6:.0f} µs after "
          f"{2 * documents}")
    print(f"simulator (apart, verify off): {bench.simulator_cpu / documents * 1000:.2f} ms CPU per document")
    bench.store.close()


if __name__ == "__main__":
    main()

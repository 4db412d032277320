"""The Kafka poison catalogue (tests/poison_catalogue.py) on every intake and internal topic of the
whole stack (in process), judged as the hostile-input suite judges a run: no stalled partition
(every consumer group's lag is 0 on every topic it reads), no dead consumer and no jammed outbox
(afterwards every relay has nothing left and a valid clearance goes through to customs' 800).

The same catalogue on a real broker: tests/integration/test_poison_kafka.py; byte-for-byte dead
letters: tests/unit/bus/test_poison_catalogue.py.
"""

from __future__ import annotations

import time
from pathlib import Path

from cbec.contracts import topics
from cbec_testkit.embedded import EmbeddedStack
from cbec_testkit.samples import declare_clearance
from counts import MEMORY_BOUND_BYTES, peak_growth_bytes, record, reset_peak
from poison_catalogue import INTERNAL_TOPICS, catalogue, clear_one_clearance, intake_catalogue, settle


def test_no_poison_message_stalls_a_partition_kills_a_consumer_or_jams_an_outbox(tmp_path: Path) -> None:
    reset_peak()
    stack = EmbeddedStack(workdir=tmp_path / "state", dxp_dir=tmp_path / "dxp")
    valid = {command.doc_type: command.to_json() for command in declare_clearance(7)}
    sent = 0
    started = time.monotonic()
    try:
        for topic, code in topics.INTAKE_TOPICS.items():
            for poison in intake_catalogue(valid.get(code, valid["CEB311"])):
                stack.bus.publish_record(topic, poison.key, poison.value, list(poison.headers))
                sent += 1
        for topic in INTERNAL_TOPICS:
            for poison in catalogue():
                stack.bus.publish_record(topic, poison.key, poison.value, list(poison.headers))
                sent += 1
        settle(stack)

        stalled = [(c.subscription.group, topic, stack.bus.lag(c.subscription.group, topic))
                   for service in stack.services.values() for c in service.consumes
                   for topic in c.subscription.topics if stack.bus.lag(c.subscription.group, topic)]
        assert stalled == []
        assert [relay.run_once() for relay in stack.relays] == [0] * len(stack.relays)

        view = clear_one_clearance(stack)
        assert view["inventory"]["statusCode"] == 800
        seconds = time.monotonic() - started
        record("kafka-poison", "in-process stack", sent, seconds)
        print(f"\nKafka poison catalogue (in-process stack): {sent} records on "
              f"{len(topics.INTAKE_TOPICS) + len(INTERNAL_TOPICS)} topics in {seconds:.1f}s; "
              "no stalled partition, every outbox empty, a valid clearance reached 800 afterwards")
        assert peak_growth_bytes() <= MEMORY_BOUND_BYTES
    finally:
        stack.close()

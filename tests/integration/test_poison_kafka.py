"""Hostile records on a real broker: the whole poison catalogue on every intake topic and every internal
topic the services consume, then valid documents. Every poison message must reach its service's dead-letter
topic byte for byte, the valid documents must go through (no partition stalled) and every process must stay
alive. Then one schema-valid order whose sign request is above the broker's message size must not keep the
next document of another tenant from being signed."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from cbec.contracts import topics
from cbec.contracts.commands import INTAKE_TOPICS
from cbec.contracts.dead_letter import DeadLetter
from cbec.declaration import lifecycle
from cbec.declaration.doctypes import BY_CODE
from cbec.privacy.cipher import AesGcmCipher
from cbec.signing.certs import generate_sm2_identity
from cbec_cli.dlq import read_topic
from cbec_testkit.samples import declare_clearance
from cbec_testkit.tenants import DEMO_TENANTS
from kafka import KafkaProducer
from large_documents import largest_order
from poison_catalogue import INTERNAL_TOPICS, Poison, catalogue, dead_letter_topics, intake_catalogue, kept
from service_processes import ServiceProcesses, fast_forward, process_env

pytestmark = pytest.mark.integration

SERVICES = ("order", "payment", "logistics", "inventory", "saga", "receipts", "signer")
KAFKA_DEFAULT_MAX = 1_048_576


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        ServiceProcesses]:
    tmp_path = tmp_path_factory.mktemp("poison")
    fast_forward(kafka_bootstrap)
    keys = tmp_path / "keys"
    keys.mkdir()
    registry = []
    for tenant in DEMO_TENANTS:
        code = tenant["customsCode"]
        key_pem, cert_pem = generate_sm2_identity(code, tenant["name"])
        (keys / f"{code}.key").write_bytes(key_pem)
        (keys / f"{code}.cer").write_bytes(cert_pem)
        registry.append({"customs_code": code, "key_pem": str(keys / f"{code}.key"),
                         "cert_pem": str(keys / f"{code}.cer")})
    (keys / "tenants.json").write_text(json.dumps(registry), encoding="utf-8")
    env = process_env(kafka_bootstrap, database_url, tmp_path, CBEC_PII_HMAC_KEY="integration-test-key",
                      CBEC_SIGNER_TENANTS_FILE=str(keys / "tenants.json"), CBEC_SIGNER_BACKEND="software",
                      CBEC_KAFKA_MAX_MESSAGE_BYTES=str(KAFKA_DEFAULT_MAX), CBEC_SAGA_RECEIPT_TIMEOUT="600")
    running = ServiceProcesses(env, tmp_path / "logs")
    try:
        running.start(*SERVICES)
        yield running
    finally:
        codes = running.stop()
        fast_forward(kafka_bootstrap)
        assert codes == dict.fromkeys(SERVICES, 0), (codes, running.tails())


def eventually(check: Callable[[], bool], stack: ServiceProcesses, what: str, timeout: float = 240,
               detail: Callable[[], object] = lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        dead = {name: p.poll() for name, p in stack.procs.items() if p.poll() is not None}
        assert not dead, f"processes ended: {dead}\n{stack.tails()}"
        time.sleep(1.0)
    pytest.fail(f"{what} not met in time: {detail()}\n{stack.tails()}", pytrace=False)


def state(stack: ServiceProcesses, doc_type: str, key: tuple[str, ...]) -> lifecycle.Declaration:
    dt = BY_CODE[doc_type]
    store = stack.open_store(dt.service)
    try:
        return lifecycle.fold(doc_type, [(e.type, e.data) for e in store.read(dt.stream_id(key))])
    finally:
        store.close()


def test_every_poison_message_is_dead_lettered_exactly_and_nothing_stalls_or_dies(
        stack: ServiceProcesses, kafka_bootstrap: str) -> None:
    n = int(time.time()) % 1_000_000
    valid = {c.doc_type: c.to_json() for c in declare_clearance(n + 500_000)}
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", max_request_size=2 * KAFKA_DEFAULT_MAX)
    sent: list[tuple[str, int, int, Poison]] = []

    def send(topic: str, poison: Poison) -> None:
        meta = producer.send(topic, key=poison.key, value=poison.value, headers=list(poison.headers)).get(30)
        sent.append((topic, meta.partition, meta.offset, poison))

    for topic, code in INTAKE_TOPICS.items():
        for poison in intake_catalogue(valid.get(code, valid["CEB311"])):
            send(topic, poison)
    for topic in INTERNAL_TOPICS:
        for poison in catalogue():
            send(topic, poison)
    clearance = declare_clearance(n)
    for command in clearance:  # valid documents after the poison, on the same intake topics
        topic = {code: t for t, code in INTAKE_TOPICS.items()}[command.doc_type]
        key = ":".join(BY_CODE[command.doc_type].business_key(command.document))
        producer.send(topic, key=key.encode(), value=command.to_json())
    producer.flush()
    producer.close()

    order, payment = clearance[0], clearance[1]
    eventually(lambda: state(stack, "CEB311", BY_CODE["CEB311"].business_key(order.document)).phase == "sent"
               and state(stack, "CEB411", BY_CODE["CEB411"].business_key(payment.document)).phase == "sent",
               stack, "the valid order and payment sent to customs")

    cipher = AesGcmCipher.from_spec(stack.env["CBEC_PII_KEYS"])
    assert cipher is not None
    expected = Counter(dlq for topic, _, _, p in sent for dlq in dead_letter_topics(topic, p))
    letters: dict[str, list[DeadLetter]] = {}

    def all_dead_lettered() -> bool:
        for dlq in expected:
            letters[dlq] = [DeadLetter.from_json(v).opened_with(cipher) for v in read_topic(kafka_bootstrap, dlq)]
        return not missing()

    def missing() -> list[tuple[str, str, str]]:
        return [(topic, poison.name, dlq) for topic, partition, offset, poison in sent
                for dlq in dead_letter_topics(topic, poison)
                if not any(letter.topic == topic and letter.partition == partition and letter.offset == offset
                           and kept(letter, poison) for letter in letters.get(dlq, []))]

    eventually(all_dead_lettered, stack, "every poison message dead-lettered", detail=lambda: missing()[:40])
    assert all(p.poll() is None for p in stack.procs.values())
    report = (f"poison catalogue (Kafka): {len(sent)} records on {len({t for t, *_ in sent})} topics, "
              f"{sum(expected.values())} dead letters in {len(expected)} dead-letter topics, all byte for byte; "
              f"valid clearance sent; {len(stack.procs)} processes alive")
    print(report)


def test_an_oversized_sign_request_does_not_keep_another_tenants_document_from_being_signed(
        stack: ServiceProcesses, kafka_bootstrap: str) -> None:
    n = int(time.time()) % 1_000_000 + 700_000
    large = largest_order(n)
    small = declare_clearance(n + 1)[1]  # the payment company's payment of another order
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", max_request_size=2 * KAFKA_DEFAULT_MAX)
    for topic, command in ((topics.IN_ORDER, large), (topics.IN_PAYMENT, small)):
        key = ":".join(BY_CODE[command.doc_type].business_key(command.document))
        producer.send(topic, key=key.encode(), value=command.to_json())
    producer.flush()
    producer.close()

    order_key = BY_CODE["CEB311"].business_key(large.document)
    payment_key = BY_CODE["CEB411"].business_key(small.document)
    eventually(lambda: state(stack, "CEB411", payment_key).phase == "sent", stack, "the small payment sent")
    eventually(lambda: state(stack, "CEB311", order_key).phase == "signing-failed", stack, "the large order failed")
    letters = [DeadLetter.from_json(v) for v in read_topic(kafka_bootstrap, topics.dead_letters("order"))]
    assert any(letter.errors[0].code == "CBEC-0091" and letter.topic == topics.SIGN_REQUESTS for letter in letters)
    clearance = f"{order_key[0]}:{order_key[1]}"
    eventually(lambda: any(s.get("status") == "alert" and s.get("clearanceKey") == clearance
                           for s in [json.loads(v or b"{}") for v in read_topic(kafka_bootstrap, topics.STATUS)]),
               stack, "the signing alert on cbec.out.status")
    assert all(p.poll() is None for p in stack.procs.values())


def test_topics_get_the_configured_size_limit_and_existing_ones_are_raised_never_lowered(kafka_bootstrap: str) -> None:
    import uuid

    from cbec.bus.kafka import _topics_of, ensure_topics
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    suffix = uuid.uuid4().hex[:8]
    old, dlq, new = f"poison-old-{suffix}", topics.dead_letters(f"poison-{suffix}"), f"poison-new-{suffix}"
    ensure_topics(kafka_bootstrap, [old], 1)  # created before any limit was configured: the broker's 1 MB
    ensure_topics(kafka_bootstrap, [old, dlq, new], 1, max_message_bytes=3_000_000)
    ensure_topics(kafka_bootstrap, [old], 1, max_message_bytes=2_000_000)  # a smaller limit lowers nothing

    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        found = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n, {"max.message.bytes": None})
                                        for n in (old, dlq, new)], config_filter="all")
    finally:
        admin.close()
    described = _topics_of(found)

    def limit(name: str) -> int:
        entry = described[name]["max.message.bytes"]
        return int(entry["value"] if isinstance(entry, dict) else entry)

    assert (limit(old), limit(new), limit(dlq)) == (3_000_000, 3_000_000, 2 * 3_000_000 + 64 * 1024)

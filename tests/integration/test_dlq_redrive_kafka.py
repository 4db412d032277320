"""`cbec dlq redrive` on a real broker: a sealed dead letter goes back to its tenant's intake topic,
partition and bytes as they came, and running the command again sends nothing more."""

from __future__ import annotations

import json
import secrets
import string
import uuid

import pytest
from cbec.bus.poison import message_of, poison_letter
from cbec.contracts import topics
from cbec.privacy.cipher import AesGcmCipher, new_key
from cbec_cli.dlq import read_records
from cbec_cli.main import app
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from typer.testing import CliRunner

pytestmark = pytest.mark.integration


def test_a_dead_letter_is_redriven_once_onto_its_original_partition(kafka_bootstrap: str) -> None:
    code = "".join(secrets.choice(string.digits) for _ in range(10))
    origin = topics.tenant_intake(topics.IN_ORDER, code)
    dlq = topics.dead_letters(f"redrive-{uuid.uuid4().hex[:8]}")
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.create_topics([NewTopic(origin, 3, 1), NewTopic(dlq, 1, 1)])
    finally:
        admin.close()
    keys = f"k1:{new_key()}"
    message = message_of(origin, 2, 41, b"SO-1", b'{"buyerIdNumber": "110101199001011234"}', [("h", b"v")])
    letter = poison_letter(message, ValueError("the handler failed")).sealed_with(AesGcmCipher.from_spec(keys))
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    producer.send(dlq, key=letter.key.encode(), value=letter.to_json()).get(timeout=30)
    producer.close()
    env = {"CBEC_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "CBEC_PII_KEYS": keys}

    first = CliRunner().invoke(app, ["dlq", "redrive", "--topic", dlq, "--all"], env=env)
    again = CliRunner().invoke(app, ["dlq", "redrive", "--topic", dlq, "--all"], env=env)
    by_id = CliRunner().invoke(app, ["dlq", "redrive", "--topic", dlq, "--id", "0:0"], env=env)

    assert first.exit_code == 0, first.output
    assert json.loads(first.output) == {"id": "0:0", "outcome": "redriven", "topic": origin}
    assert again.exit_code == 0 and again.output == ""
    assert json.loads(by_id.output)["outcome"] == "already redriven"
    [redriven] = read_records({"bootstrap_servers": kafka_bootstrap}, origin)
    assert (redriven.partition, redriven.key, redriven.value) == (2, b"SO-1", message.value)

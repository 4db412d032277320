"""A stand-in signer process for the clearance e2e test: one software SM2 key per tenant.

``cbec run signer`` signs for one tenant per process (CBEC_SIGNER_TENANT); a full clearance needs
the keys of five enterprises. Run: ``python clearance_signer.py <keys dir>`` with
CBEC_KAFKA_BOOTSTRAP_SERVERS set; the dir holds ``<customs code>.key`` / ``.cer`` PEM pairs.
"""

from __future__ import annotations

import base64
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from cbec.bus.kafka import KafkaConsumerLoop, KafkaPublisher, ensure_topics
from cbec.bus.ports import Message, Subscription
from cbec.settings import Settings
from cbec.signing.sm2 import SoftwareSM2Key
from cbec.signing.xmldsig import sign_document

REQUESTS, RESULTS = "cbec.sign.requests", "cbec.sign.results"


def main(keys_dir: Path) -> None:
    settings = Settings()
    keys = {p.stem: SoftwareSM2Key.from_pem(p.read_bytes(), p.with_suffix(".cer").read_bytes())
            for p in keys_dir.glob("*.key")}
    ensure_topics(settings.kafka_bootstrap_servers, [REQUESTS, RESULTS], settings.topic_partitions)
    publisher = KafkaPublisher(settings.kafka_bootstrap_servers, client_id="test-signer")

    def handle(message: Message) -> None:
        request: dict[str, Any] = json.loads(message.value)
        result = {k: request[k] for k in ("request_id", "tenant", "doc_type", "clearance_key")}
        key = keys.get(str(request["tenant"]))
        if key is None:
            result.update(ok=False, error={"code": "CBEC-3001", "message": "no key for this tenant"})
        else:
            signed = sign_document(base64.b64decode(request["xml_b64"]), key)
            result.update(ok=True, signed_xml_b64=base64.b64encode(signed).decode())
        publisher.publish(RESULTS, str(request["clearance_key"]), json.dumps(result).encode())
        publisher.flush()

    consumer = KafkaConsumerLoop(settings.kafka_bootstrap_servers, Subscription((REQUESTS,), "cbec-signer"), handle)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print("test signer: ready", flush=True)
    consumer.run_forever(stop)
    consumer.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))

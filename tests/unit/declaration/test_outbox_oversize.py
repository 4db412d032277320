"""A document whose sign request is above the configured message size never blocks the outbox: it is
dead-lettered (its sender alerted through a failed signing), and the next document of another tenant is
signed and sent."""

from __future__ import annotations

from pathlib import Path

from cbec.contracts import topics
from cbec.contracts.dead_letter import DeadLetter
from cbec.contracts.status import StatusMessage
from cbec.declaration.doctypes import BY_CODE
from cbec.settings import Settings
from cbec_testkit.embedded import EmbeddedStack, embedded_settings
from cbec_testkit.samples import declare_clearance
from large_documents import largest_order

KAFKA_DEFAULT = 1_048_576


def test_an_oversized_sign_request_is_dead_lettered_and_the_next_document_is_signed(tmp_path: Path) -> None:
    settings = embedded_settings(Settings.from_environ({"CBEC_KAFKA_MAX_MESSAGE_BYTES": str(KAFKA_DEFAULT)}))
    stack = EmbeddedStack(workdir=tmp_path / "state", dxp_dir=tmp_path / "dxp", settings=settings)
    large = largest_order(1)
    small_payment = declare_clearance(2)[1]  # the payment company's document, another clearance
    try:
        stack.submit(large)
        stack.submit(small_payment)
        for _ in range(30):
            stack.step()

        order = stack.declaration("CEB311", ("3105960001", "DEMO00000001"))
        payment = stack.declaration("CEB411", BY_CODE["CEB411"].business_key(small_payment.document))
        assert order is not None and order.phase == "signing-failed"
        assert payment is not None and payment.phase in ("sent", "signed")
        [letter] = [DeadLetter.from_json(m.value) for m in stack.bus.messages(topics.dead_letters("order"))]
        assert letter.errors[0].code == "CBEC-0091" and letter.topic == topics.SIGN_REQUESTS
        alerts = [StatusMessage.from_json(m.value) for m in stack.bus.messages(topics.STATUS)]
        assert any(a.status == "alert" and a.tenant == "3105960001" and a.doc_type == "CEB311" for a in alerts)
        assert all(len(m.value) < KAFKA_DEFAULT for m in stack.bus.messages(topics.SIGN_REQUESTS))
    finally:
        stack.close()


def test_within_the_default_limit_the_largest_order_is_signed_too(tmp_path: Path) -> None:
    stack = EmbeddedStack(workdir=tmp_path / "state", dxp_dir=tmp_path / "dxp")
    large = largest_order(1)
    try:
        assert len(large.to_json()) > 800_000
        stack.submit(large)
        for _ in range(20):
            stack.step()
        order = stack.declaration("CEB311", ("3105960001", "DEMO00000001"))
        assert order is not None and order.phase in ("sent", "signed"), order and order.errors
        [request] = stack.bus.messages(topics.SIGN_REQUESTS)
        assert len(request.value) > 1_100_000  # above Kafka's default, within CBEC_KAFKA_MAX_MESSAGE_BYTES
    finally:
        stack.close()

"""Every Kafka topic name of cbec, defined once; producers, consumers and wiring import them here.

``asyncapi.yaml`` publishes the same names (a contract test keeps the two in step).
"""

from __future__ import annotations

# Intake: public commands from platforms and partners (DeclareDocument JSON), by document type.
IN_ORDER = "cbec.in.order"
IN_PAYMENT = "cbec.in.payment"
IN_WAYBILL = "cbec.in.waybill"
IN_WAYBILL_STATUS = "cbec.in.waybill-status"
IN_INVENTORY = "cbec.in.inventory"
IN_CANCEL = "cbec.in.cancel"
IN_RETURN = "cbec.in.return"
IN_ENTRY = "cbec.in.entry"
INTAKE_TOPICS: dict[str, str] = {
    IN_ORDER: "CEB311",
    IN_PAYMENT: "CEB411",
    IN_WAYBILL: "CEB511",
    IN_WAYBILL_STATUS: "CEB513",
    IN_INVENTORY: "CEB621",
    IN_CANCEL: "CEB623",
    IN_RETURN: "CEB625",
    IN_ENTRY: "CEB711",
}
"""Intake topic → the document type it carries."""

GOODS_LEFT = "cbec.in.goods-left"  # RecordGoodsLeft, for the saga

SIGN_REQUESTS = "cbec.sign.requests"
SIGN_RESULTS = "cbec.sign.results"

TRANSMISSIONS = "cbec.customs.transmissions"  # signed documents handed to the customs link
RECEIPTS = "cbec.customs.receipts"  # customs receipts, correlated by business key

SAGA_COMMANDS = "cbec.saga.commands"
STATUS = "cbec.out.status"

DECLARATION_SERVICES = ("order", "payment", "logistics", "inventory")
"""The owning declaration services, each publishing on ``cbec.<service>.events``."""

SIGNER_DEAD_LETTERS = "cbec.dlq.signer"  # unreadable sign requests, as they came
WEBHOOK_DEAD_LETTERS = "cbec.dlq.webhooks"  # status deliveries that failed every attempt


def events(service: str) -> str:
    """The public events topic of one declaration service (envelope ``cbec.event/1``)."""
    return f"cbec.{service}.events"


def dead_letters(service: str) -> str:
    """Messages a service could not read or handle (``events/dead-letter.json``)."""
    return f"cbec.dlq.{service}"


def is_dead_letter(topic: str) -> bool:
    """Whether ``topic`` is a dead-letter topic (its messages carry whole other messages)."""
    return topic.startswith(dead_letters(""))


SERVICE_EVENTS: tuple[str, ...] = tuple(events(s) for s in DECLARATION_SERVICES)

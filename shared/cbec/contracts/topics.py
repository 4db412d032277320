"""Every Kafka topic name of cbec, defined once; producers, consumers and wiring import them here.

``asyncapi.yaml`` publishes the same names (a contract test keeps the two in step).
"""

from __future__ import annotations

import re

# Intake: public commands from platforms and partners (DeclareDocument JSON), by document type.
IN_ORDER = "cbec.in.order"
IN_PAYMENT = "cbec.in.payment"
IN_WAYBILL = "cbec.in.waybill"
IN_WAYBILL_STATUS = "cbec.in.waybill-status"
IN_INVENTORY = "cbec.in.inventory"
IN_CANCEL = "cbec.in.cancel"
IN_RETURN = "cbec.in.return"
IN_ENTRY = "cbec.in.entry"
# Export, named like the import ones: ``cbec.in.<kind>`` of the document type.
IN_EXPORT_ORDER = "cbec.in.export-order"
IN_COLLECTION = "cbec.in.collection"  # 收款单
IN_EXPORT_WAYBILL = "cbec.in.export-waybill"
IN_ARRIVAL = "cbec.in.arrival"  # 运抵单
IN_DEPARTURE = "cbec.in.departure"  # 离境单
IN_MASTER_BILL = "cbec.in.master-bill"  # 清单总分单
IN_EXPORT_INVENTORY = "cbec.in.export-inventory"
IN_EXPORT_CANCEL = "cbec.in.export-cancel"
IN_EXPORT_RETURN = "cbec.in.export-return"  # 退货申请单
IN_RETURN_TALLY = "cbec.in.return-tally"  # 退运理货明细单
IN_SUMMARY = "cbec.in.summary"  # 汇总申请单
INTAKE_TOPICS: dict[str, str] = {
    IN_ORDER: "CEB311",
    IN_PAYMENT: "CEB411",
    IN_WAYBILL: "CEB511",
    IN_WAYBILL_STATUS: "CEB513",
    IN_INVENTORY: "CEB621",
    IN_CANCEL: "CEB623",
    IN_RETURN: "CEB625",
    IN_ENTRY: "CEB711",
    IN_EXPORT_ORDER: "CEB303",
    IN_COLLECTION: "CEB403",
    IN_EXPORT_WAYBILL: "CEB505",
    IN_ARRIVAL: "CEB507",
    IN_DEPARTURE: "CEB509",
    IN_MASTER_BILL: "CEB607",
    IN_EXPORT_INVENTORY: "CEB603",
    IN_EXPORT_CANCEL: "CEB605",
    IN_EXPORT_RETURN: "CEB213",
    IN_RETURN_TALLY: "CEB215",
    IN_SUMMARY: "CEB701",
}
"""Intake topic → the document type it carries (the shared topics: development only, see
:func:`tenant_intake`)."""

_CUSTOMS_CODE = re.compile(r"[0-9A-Za-z]{10}")


def is_customs_code(code: str) -> bool:
    """Whether ``code`` can name a tenant's topic (10 letters or digits, as customs codes are)."""
    return bool(_CUSTOMS_CODE.fullmatch(code))


def tenant_intake(topic: str, customs_code: str) -> str:
    """One tenant's own intake topic for the documents of shared intake ``topic``:
    ``cbec.in.order.3105960001``. Only that tenant's principal may write it (ACLs), and the owning
    service takes the sender from the name (docs/security.md, "Identity on Kafka")."""
    if topic not in INTAKE_TOPICS or not _CUSTOMS_CODE.fullmatch(customs_code):
        raise ValueError(f"no tenant intake topic for {topic!r} and customs code {customs_code!r}")
    return f"{topic}.{customs_code}"


def intake_binding(topic: str) -> tuple[str, str | None] | None:
    """``(shared intake topic, the tenant it binds or None)`` for an intake topic, None for any other:
    ``cbec.in.order.3105960001`` → ``("cbec.in.order", "3105960001")``, ``cbec.in.order`` →
    ``("cbec.in.order", None)``."""
    if topic in INTAKE_TOPICS:
        return topic, None
    shared, _, code = topic.rpartition(".")
    if shared in INTAKE_TOPICS and _CUSTOMS_CODE.fullmatch(code):
        return shared, code
    return None

GOODS_LEFT = "cbec.in.goods-left"  # RecordGoodsLeft, for the saga (development: anyone's)


def tenant_goods_left(customs_code: str) -> str:
    """A site operator's own goods-left topic, ``cbec.in.goods-left.<code>``: only that operator's
    principal may write it (ACLs), and the saga takes the recorder from the name."""
    if not _CUSTOMS_CODE.fullmatch(customs_code):
        raise ValueError(f"no goods-left topic for customs code {customs_code!r}")
    return f"{GOODS_LEFT}.{customs_code}"


def goods_left_binding(topic: str) -> tuple[bool, str | None]:
    """``(is a goods-left topic, the recorder it binds or None)``: the shared topic binds nobody."""
    if topic == GOODS_LEFT:
        return True, None
    shared, _, code = topic.rpartition(".")
    if shared == GOODS_LEFT and _CUSTOMS_CODE.fullmatch(code):
        return True, code
    return False, None

SIGN_REQUESTS = "cbec.sign.requests"
SIGN_RESULTS = "cbec.sign.results"  # the whole signed document, for the customs link (and the signer's cache)

STATUS = "cbec.out.status"  # every tenant's status changes (the saga's webhooks; development tools)


def tenant_status(customs_code: str) -> str:
    """The status topic one tenant may read: ``cbec.out.status.3105960001``."""
    if not _CUSTOMS_CODE.fullmatch(customs_code):
        raise ValueError(f"no status topic for customs code {customs_code!r}")
    return f"{STATUS}.{customs_code}"


DECLARATION_SERVICES = ("order", "payment", "logistics", "inventory")
"""The owning declaration services, each publishing on ``cbec.<service>.events``."""

SIGNER_DEAD_LETTERS = "cbec.dlq.signer"  # unreadable sign requests, as they came
WEBHOOK_DEAD_LETTERS = "cbec.dlq.webhooks"  # status deliveries that failed every attempt
NOTIFICATION_CIRCUITS = "cbec.ops.notification-circuits"  # a tenant's callback circuit opened or closed (operators)


def events(service: str) -> str:
    """The public events topic of one declaration service (envelope ``cbec.event/1``)."""
    return f"cbec.{service}.events"


def dead_letters(service: str) -> str:
    """Messages a service could not read or handle (``events/dead-letter.json``)."""
    return f"cbec.dlq.{service}"


# Feedback: what the signer, the customs link and the saga tell the service that owns a document.
# One topic per owning service and kind, keyed by clearance: a service reads only its own, and each
# partition has one producer (so one tracking position per partition: a poll commits in one transaction).
FEEDBACK_SIGNED = "sign-outcomes"  # SignResult without the signed XML (the signer; an oversized request: its owner)
FEEDBACK_SENT = "transmissions"  # DocumentTransmitted (the customs link)
FEEDBACK_RECEIPTS = "receipts"  # ReceiptReceived (the customs link)
FEEDBACK_COMMANDS = "saga-commands"  # SagaCommand (the saga)
FEEDBACK_KINDS = (FEEDBACK_SIGNED, FEEDBACK_SENT, FEEDBACK_RECEIPTS, FEEDBACK_COMMANDS)


def feedback(service: str, kind: str) -> str:
    """The feedback topic of one kind for one owning declaration service: ``cbec.feedback.order.receipts``."""
    if service not in DECLARATION_SERVICES or kind not in FEEDBACK_KINDS:
        raise ValueError(f"no feedback topic of kind {kind!r} for service {service!r}")
    return f"cbec.feedback.{service}.{kind}"


def feedback_topics(service: str) -> tuple[str, ...]:
    """Every feedback topic one declaration service reads."""
    return tuple(feedback(service, kind) for kind in FEEDBACK_KINDS)


def feedback_of_kind(kind: str) -> tuple[str, ...]:
    """The feedback topics of one kind, one per declaration service (what its producer writes)."""
    return tuple(feedback(service, kind) for service in DECLARATION_SERVICES)


def feedback_kind(topic: str) -> tuple[str, str] | None:
    """``(service, kind)`` of a feedback topic, None for any other topic."""
    prefix, _, rest = topic.partition("cbec.feedback.")
    service, _, kind = rest.partition(".")
    if prefix or service not in DECLARATION_SERVICES or kind not in FEEDBACK_KINDS:
        return None
    return service, kind


def is_dead_letter(topic: str) -> bool:
    """Whether ``topic`` is a dead-letter topic (its messages carry whole other messages)."""
    return topic.startswith(dead_letters(""))


SERVICE_EVENTS: tuple[str, ...] = tuple(events(s) for s in DECLARATION_SERVICES)
FEEDBACK_TOPICS: tuple[str, ...] = tuple(t for s in DECLARATION_SERVICES for t in feedback_topics(s))

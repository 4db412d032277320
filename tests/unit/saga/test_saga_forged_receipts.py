"""The saga never folds a receipt stamped in the future (beyond CBEC_RECEIPT_MAX_SKEW): it raises a
ClearanceAlert to the document's sender instead, and the next genuine receipt still applies."""

from __future__ import annotations

from cbec.contracts.status import CLEARANCE_ALERT
from saga_story import Story


def test_the_saga_alerts_and_does_not_fold_a_receipt_from_the_future() -> None:
    story = Story()
    story.declare("order")
    story.customs("order", 2)
    story.customs("order", 100, time="20990101000000000", info="forged")
    assert story.status_of("order") == "declaring at e-port (2)"
    alerts = [m for m in story.status_messages() if m.type == CLEARANCE_ALERT]
    assert len(alerts) == 1 and "20990101000000000" in alerts[0].reason and alerts[0].tenant == story.saga.load(
        story.key).docs["order"].sender
    story.customs("order", 120)
    assert story.status_of("order") == "customs accepted (120)"

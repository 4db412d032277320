"""The operator view's faust agent on real Kafka: status changes, a rejection, a transmission without a
receipt and a webhook dead letter become windowed figures the console's operator page reads."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cbec.bus.kafka import KafkaPublisher, ensure_topics
from cbec.contracts import topics
from console_service.operator_agent import operator_agent
from console_service.operator_stats import SOURCE_TOPICS, OperatorFigures

pytestmark = pytest.mark.integration


def test_the_agent_keeps_windowed_figures_of_the_platforms_topics(kafka_bootstrap: str, kafka_topic_prefix: str,
                                                                  tmp_path: Path) -> None:
    named = {f"{kafka_topic_prefix}{name}": name for name in SOURCE_TOPICS}
    actual = {name: topic for topic, name in named.items()}
    ensure_topics(kafka_bootstrap, list(named), partitions=2)
    agent = operator_agent(kafka_bootstrap, partitions=2, datadir=str(tmp_path),
                           app_id=f"cbec-test-operator-{uuid.uuid4().hex[:8]}", source_topics=named)
    tenant, now = "3105960001", datetime.now(UTC)
    long_ago = (now - timedelta(minutes=45)).isoformat()

    def status(order: str, phase: str, code: int | None, errors: list[dict[str, str]] | None = None) -> bytes:
        return json.dumps({"schema": "cbec.status/1", "eventId": f"{order}-{phase}", "tenant": tenant,
                           "clearanceKey": f"{tenant}:{order}", "docType": "CEB311", "businessKey": [order],
                           "status": phase, "statusCode": code, "phase": phase, "occurredAt": now.isoformat(),
                           **({"errors": errors} if errors else {})}).encode()

    def transmitted(order: str) -> bytes:
        return json.dumps({"request_id": order, "doc_type": "CEB311", "clearance_key": f"{tenant}:{order}",
                           "file_name": f"{order}.xml", "cop_msg_id": "", "sent_at": long_ago}).encode()

    receipt = json.dumps({"receipt_id": "r1", "receipt_type": "CEB312", "doc_type": "CEB311",
                          "business_key": ["SO-1"], "return_status": 2, "return_time": "", "return_info": "",
                          "node": {"clearanceKey": f"{tenant}:SO-1"}}).encode()
    letter = json.dumps({"deliveryId": "d1", "messageId": "m1", "tenant": tenant, "url": "https://hook",
                         "body": "{}", "due": long_ago, "attempts": 5, "error": "HTTP 410"}).encode()

    async def scenario() -> OperatorFigures:
        await agent.start()
        try:
            publisher = KafkaPublisher(kafka_bootstrap)
            sent_topic = actual[topics.feedback("order", topics.FEEDBACK_SENT)]
            for order in ("SO-1", "SO-2"):
                publisher.publish(actual[topics.STATUS], f"{tenant}:{order}", status(order, "sent", 2), {})
                publisher.publish(sent_topic, f"{tenant}:{order}", transmitted(order), {})
            publisher.publish(actual[topics.STATUS], f"{tenant}:SO-2",
                              status("SO-2", "rejected", 100, [{"code": "1001", "path": "p", "rule": "r",
                                                                 "message": "m"}]), {})
            publisher.publish(actual[topics.feedback("order", topics.FEEDBACK_RECEIPTS)], f"{tenant}:SO-1",
                              receipt, {})
            publisher.publish(actual[topics.WEBHOOK_DEAD_LETTERS], tenant, letter, {})
            publisher.flush()
            publisher.close()
            for _ in range(600):
                if agent.seen >= 7:
                    break
                await asyncio.sleep(0.1)
            return agent.figures()
        finally:
            await agent.stop()

    figures = asyncio.run(scenario())

    assert figures.phases[tenant] == {"sent": 2, "rejected": 1}
    assert figures.rejections[tenant] == {"1001": 1}
    assert figures.overdue[tenant] == 1  # SO-2 left 45 minutes ago and has no receipt; SO-1 has one
    assert figures.webhooks[tenant] == 1
    assert sum(figures.per_window.values()) == 3 and figures.lag >= 0

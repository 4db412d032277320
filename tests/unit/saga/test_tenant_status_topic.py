"""Each status change goes to the shared ``cbec.out.status`` (the saga's webhooks, development tools) and
to the tenant's own ``cbec.out.status.<code>``: with ACLs a tenant reads only the latter."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from cbec.store.events import RecordedEvent
from saga_service import domain
from saga_service.application import route


def published(tenant: str) -> RecordedEvent:
    data = {"clearanceKey": "3105960001:SO-1", "tenant": tenant, "docType": "CEB311",
            "businessKey": ["3105960001", "SO-1"], "status": "declared", "at": "2026-01-01T00:00:00+00:00"}
    return RecordedEvent(uuid.uuid4(), 3, domain.STATUS_PUBLISHED, data, {}, datetime.now(UTC))


def test_a_status_change_is_copied_to_the_tenants_own_topic() -> None:
    messages = route(published("3105960001"))
    assert [topic for topic, _, _ in messages] == ["cbec.out.status", "cbec.out.status.3105960001"]
    assert messages[0][1:] == messages[1][1:]  # the same key and bytes


def test_no_tenant_topic_without_a_customs_code() -> None:
    assert [topic for topic, _, _ in route(published(""))] == ["cbec.out.status"]

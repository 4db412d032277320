"""The ACLs `cbec kafka-acls` creates: tenants write only their own intake topics and read only their own
status topic; each internal topic is written by its owner alone and read by the services that consume it
(checked against what each service's consumer actually subscribes to)."""

from __future__ import annotations

import importlib

from cbec.contracts import topics
from cbec.declaration.dispatch import handlers
from cbec.quota.settings import QuotaSettings
from cbec_cli.kafka_acls import SERVICES, grants, service_user, trust_table
from cbec_testkit.memory import InMemoryDeclarationStore
from cbec_testkit.tenants import demo_registry
from saga_service.application import input_topics

TENANTS = demo_registry()
GRANTS = grants(TENANTS)


def allowed(principal: str, operation: str) -> set[str]:
    return {g.name for g in GRANTS if g.principal == principal and g.operation == operation and g.resource == "TOPIC"}


def test_a_tenant_writes_only_its_own_topics_and_reads_only_its_status() -> None:
    for tenant in TENANTS.all():
        user = f"tenant-{tenant.customs_code}"
        assert all(t.endswith("." + tenant.customs_code) for t in allowed(user, "WRITE"))
        assert allowed(user, "READ") == {topics.tenant_status(tenant.customs_code)}
        assert not allowed(user, "CREATE")


def test_internal_topics_have_one_owner_and_no_tenant() -> None:
    table = {row.topic: row for row in trust_table(TENANTS)}
    assert table[topics.SIGN_RESULTS].writers == (service_user("signer"),)
    for service in topics.DECLARATION_SERVICES:
        assert table[topics.feedback(service, topics.FEEDBACK_RECEIPTS)].writers == (service_user("receipts"),)
        assert table[topics.feedback(service, topics.FEEDBACK_SENT)].writers == (service_user("receipts"),)
        assert table[topics.feedback(service, topics.FEEDBACK_COMMANDS)].writers == (service_user("saga"),)
        assert table[topics.feedback(service, topics.FEEDBACK_SIGNED)].writers == (
            service_user("signer"), service_user(service))  # its own: an oversized request's failure
    for topic in (topics.SIGN_REQUESTS, topics.SIGNER_DEAD_LETTERS, *(topics.dead_letters(s) for s in
                                                                      topics.DECLARATION_SERVICES)):
        assert not any(p.startswith("tenant-") for p in (*table[topic].writers, *table[topic].readers)), topic
    shared = {*topics.INTAKE_TOPICS, topics.GOODS_LEFT}  # development only
    assert all(not row.writers for topic, row in table.items() if topic in shared)


def declaration_app(service: str) -> object:
    module = importlib.import_module(f"{service}_service.application")
    if service == "inventory":
        return module.build(InMemoryDeclarationStore(), TENANTS, QuotaSettings(pii_hmac_key="k"))
    return module.build(InMemoryDeclarationStore(), TENANTS)


def test_feedback_is_read_only_by_the_service_that_owns_it() -> None:
    for service in topics.DECLARATION_SERVICES:
        user = service_user(service)
        readable = {t for t in allowed(user, "READ") if topics.feedback_kind(t)}
        assert readable == set(topics.feedback_topics(service)), service
        assert topics.SIGN_RESULTS not in allowed(user, "READ")  # the signed documents are the customs link's
    for writer, kinds in (("signer", {topics.FEEDBACK_SIGNED}), ("saga", {topics.FEEDBACK_COMMANDS}),
                          ("receipts", {topics.FEEDBACK_SENT, topics.FEEDBACK_RECEIPTS})):
        written = {topics.feedback_kind(t) for t in allowed(service_user(writer), "WRITE")} - {None}
        assert written == {(s, k) for s in topics.DECLARATION_SERVICES for k in kinds}, writer


def test_every_service_may_read_what_it_subscribes_to() -> None:
    for service in topics.DECLARATION_SERVICES:
        subscribed = set(handlers(declaration_app(service)))  # type: ignore[arg-type]
        assert subscribed <= allowed(service_user(service), "READ"), service
    assert set(input_topics(TENANTS)) | {topics.STATUS} <= allowed(service_user("saga"), "READ")
    assert {topics.SIGN_REQUESTS} <= allowed(service_user("signer"), "READ")
    assert {topics.SIGN_RESULTS} <= allowed(service_user("receipts"), "READ")
    assert all(any(g.principal == service_user(s) and g.resource == "GROUP" for g in GRANTS) for s in SERVICES)

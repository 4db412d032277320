"""`cbec kafka-acls`: the broker's SCRAM users and ACLs, from the tenant registry and the services' topics.

Who may write and read each topic (docs/security.md, "Identity on Kafka"): a tenant writes only its own
intake topics (``cbec.in.<doc>.<code>``) and reads only its own status topic (``cbec.out.status.<code>``);
every internal topic is written and read only by the service principals that own or consume it.
Principals: ``User:cbec-<service>`` per service, ``User:tenant-<customsCode>`` per tenant. The command runs
as a super user (the ``CBEC_KAFKA_*`` settings) through the admin API.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from cbec.bus.security import client_options
from cbec.contracts import topics
from cbec.declaration.policy import DocumentPolicy
from cbec.settings import KafkaSettings, Settings
from cbec.tenants import Role, TenantRegistry

DOMAINS: dict[str, str] = {
    "order": "order_service.domain",
    "payment": "payment_service.domain",
    "logistics": "logistics_service.domain",
    "inventory": "inventory_service.domain",
}
"""Each declaration service's document policies (which types it owns, which roles may send them)."""

SIGNER, RECEIPTS, SAGA = "signer", "receipts", "saga"
SERVICES = (*topics.DECLARATION_SERVICES, SIGNER, RECEIPTS, SAGA)
GROUPS: dict[str, tuple[str, ...]] = {s: (f"cbec-{s}",) for s in SERVICES} | {SAGA: ("cbec-saga", "cbec-webhooks")}


CONSOLE = "cbec-console"  # the web console's operator view (a faust agent: its group and changelog topics)
CONSOLE_GROUP = "cbec-console-operator"
CONSOLE_READS: tuple[str, ...] = (topics.STATUS, topics.WEBHOOK_DEAD_LETTERS, topics.NOTIFICATION_CIRCUITS,
                                  *topics.feedback_of_kind(topics.FEEDBACK_SENT),
                                  *topics.feedback_of_kind(topics.FEEDBACK_RECEIPTS))


def service_user(service: str) -> str:
    return f"cbec-{service}"


def tenant_user(customs_code: str) -> str:
    return f"tenant-{customs_code}"


@dataclass(frozen=True, order=True)
class Grant:
    """One ALLOW ACL: ``principal`` may ``operation`` on ``resource`` ``name`` (literal or prefixed)."""

    principal: str
    operation: str  # READ, WRITE, CREATE, DESCRIBE
    resource: str  # TOPIC, GROUP
    name: str
    pattern: str = "LITERAL"

    def __str__(self) -> str:
        return f"ALLOW User:{self.principal} {self.operation} {self.resource} {self.name} ({self.pattern})"


@dataclass(frozen=True)
class TopicAccess:
    """One row of the trust table: a topic, who writes it, who reads it."""

    topic: str
    writers: tuple[str, ...]
    readers: tuple[str, ...]


def owned_doc_types(service: str) -> list[DocumentPolicy]:
    policies: tuple[DocumentPolicy, ...] = importlib.import_module(DOMAINS[service]).POLICIES
    return list(policies)


def trust_table(tenants: TenantRegistry) -> list[TopicAccess]:
    """Topic → writers → readers, every principal named as its Kafka user."""
    declaring = tuple(service_user(s) for s in topics.DECLARATION_SERVICES)
    rows: list[TopicAccess] = []
    for service in topics.DECLARATION_SERVICES:
        user = service_user(service)
        for policy in owned_doc_types(service):
            shared = next(t for t, code in topics.INTAKE_TOPICS.items() if code == policy.code)
            rows.append(TopicAccess(shared, (), (user,)))  # development only: no tenant may write it
            rows += [TopicAccess(topics.tenant_intake(shared, t.customs_code), (tenant_user(t.customs_code),), (user,))
                     for t in tenants.all() if t.roles & policy.sender_roles]
        rows.append(TopicAccess(topics.events(service), (user,), (service_user(SAGA),)))
        rows.append(TopicAccess(topics.dead_letters(service), (user,), ()))
        # Feedback: only the owner reads it. The owner writes its own sign outcomes too (an oversized request).
        rows += [TopicAccess(topics.feedback(service, kind), writers, (user,)) for kind, writers in (
            (topics.FEEDBACK_SIGNED, (service_user(SIGNER), user)),
            (topics.FEEDBACK_SENT, (service_user(RECEIPTS),)),
            (topics.FEEDBACK_RECEIPTS, (service_user(RECEIPTS),)),
            (topics.FEEDBACK_COMMANDS, (service_user(SAGA),)),
        )]
    site_operators = [t.customs_code for t in tenants.all() if Role.SITE_OPERATOR in t.roles]
    rows += [
        TopicAccess(topics.GOODS_LEFT, (), (service_user(SAGA),)),  # development only: no tenant may write it
        TopicAccess(topics.SIGN_REQUESTS, declaring, (service_user(SIGNER),)),
        TopicAccess(topics.SIGN_RESULTS, (service_user(SIGNER),),
                    (service_user(RECEIPTS), service_user(SIGNER))),  # the signer reads its cache back
        TopicAccess(topics.SIGNER_DEAD_LETTERS, (service_user(SIGNER),), ()),
        TopicAccess(topics.STATUS, (service_user(SAGA),), (service_user(SAGA),)),  # the saga's webhook sender
        TopicAccess(topics.WEBHOOK_DEAD_LETTERS, (service_user(SAGA),), ()),
        TopicAccess(topics.NOTIFICATION_CIRCUITS, (service_user(SAGA),), ()),  # read by the console (below)
    ]
    rows += [TopicAccess(topics.tenant_goods_left(code), (tenant_user(code),), (service_user(SAGA),))
             for code in site_operators]
    rows += [TopicAccess(topics.tenant_status(t.customs_code), (service_user(SAGA),), (tenant_user(t.customs_code),))
             for t in tenants.all()]
    return rows


def grants(tenants: TenantRegistry) -> list[Grant]:
    """Every ACL of the trust table: WRITE for writers, READ for readers, CREATE for the services (they
    create the topics they use at start), READ on each principal's consumer groups."""
    services = {service_user(s) for s in SERVICES}
    found: set[Grant] = set()
    for row in trust_table(tenants):
        found |= {Grant(w, "WRITE", "TOPIC", row.topic) for w in row.writers}
        found |= {Grant(r, "READ", "TOPIC", row.topic) for r in row.readers}
        found |= {Grant(p, "CREATE", "TOPIC", row.topic) for p in (*row.writers, *row.readers) if p in services}
    found |= {Grant(service_user(s), "READ", "GROUP", g) for s, groups in GROUPS.items() for g in groups}
    found |= {Grant(tenant_user(t.customs_code), "READ", "GROUP", tenant_user(t.customs_code), "PREFIXED")
              for t in tenants.all()}
    found |= console_grants()
    return sorted(found)


def console_grants() -> set[Grant]:
    """The console's operator view reads the topics it folds and owns its faust group's topics and group;
    for the consumer groups' lag it describes the platform's groups and topics (committed and end offsets)."""
    owned = {Grant(CONSOLE, op, "TOPIC", CONSOLE_GROUP, "PREFIXED") for op in ("READ", "WRITE", "CREATE")}
    lag = {Grant(CONSOLE, "DESCRIBE", "GROUP", "cbec-", "PREFIXED"),
           Grant(CONSOLE, "DESCRIBE", "TOPIC", "cbec.", "PREFIXED")}
    return ({Grant(CONSOLE, "READ", "TOPIC", name) for name in CONSOLE_READS} | owned | lag
            | {Grant(CONSOLE, "READ", "GROUP", CONSOLE_GROUP, "PREFIXED")})


def principals(tenants: TenantRegistry) -> list[str]:
    return [*(service_user(s) for s in SERVICES), CONSOLE, *(tenant_user(t.customs_code) for t in tenants.all())]


def read_passwords(path: Path) -> dict[str, str]:
    """``name=password`` lines (``#`` comments and blank lines skipped)."""
    passwords: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, password = line.partition("=")
        if not sep or not name or not password:
            raise typer.BadParameter(f"{path}:{number}: expected name=password")
        passwords[name.strip()] = password
    return passwords


def apply(kafka: KafkaSettings, tenants: TenantRegistry, passwords: Mapping[str, str] | None = None) -> list[Grant]:
    """Upsert the SCRAM credentials of ``passwords`` (user → password) and create every grant, as the
    super user of ``kafka``; returns the grants. Creating an ACL that exists is harmless."""
    from kafka.admin import (
        ACL,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        KafkaAdminClient,
        ResourcePattern,
        ResourceType,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    wanted = grants(tenants)
    admin = KafkaAdminClient(client_id="cbec-kafka-acls", **client_options(kafka))
    try:
        if passwords:
            mechanism = ScramMechanism[kafka.sasl_mechanism.replace("-", "_")]
            answer = admin.alter_user_scram_credentials(
                [UserScramCredentialUpsertion(user, mechanism, password) for user, password in passwords.items()])
            _raise_failures("SCRAM credentials", answer)
        acls = [ACL(f"User:{g.principal}", "*", ACLOperation[g.operation], ACLPermissionType.ALLOW,
                    ResourcePattern(ResourceType[g.resource], g.name, ACLResourcePatternType[g.pattern]))
                for g in wanted]
        result = admin.create_acls(acls)
        failed = result.get("failed", []) if isinstance(result, dict) else []
        if failed:
            raise RuntimeError(f"{len(failed)} ACL(s) not created, first: {failed[0]!r}")
    finally:
        admin.close()
    return wanted


def _raise_failures(what: str, answer: Any) -> None:
    errors = {k: v for k, v in dict(answer or {}).items() if v} if isinstance(answer, Mapping) else {}
    if errors:
        raise RuntimeError(f"{what} not set: {errors}")


def _print(lines: Iterable[object]) -> None:
    for line in lines:
        typer.echo(str(line))


def register(app: typer.Typer) -> None:
    @app.command("kafka-acls")
    def kafka_acls(
        passwords: Annotated[Path | None, typer.Option(help="name=password lines: SCRAM users to create or"
                                                            " update (service and tenant principals)")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="print the ACLs and the trust table only")] = False,
    ) -> None:
        """Create the SCRAM users and ACLs of every service and tenant (run as a Kafka super user)."""
        from cbec_cli.run import tenants_for

        settings = Settings()
        tenants = tenants_for(settings)
        if dry_run:
            _print(f"{row.topic}  writers: {', '.join(row.writers) or '-'}  readers: {', '.join(row.readers) or '-'}"
                   for row in trust_table(tenants))
            _print(grants(tenants))
            return
        done = apply(settings.kafka, tenants, read_passwords(passwords) if passwords else None)
        typer.echo(f"kafka-acls: {len(done)} ACLs for {len(principals(tenants))} principals"
                   f" on {settings.kafka.bootstrap_servers}")

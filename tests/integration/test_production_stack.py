"""A clearance cleared by the services running as the production chart configures them.

Each service runs as a process with the environment its Deployment in ``k8s/prod.yaml`` (rendered from
``charts/cbec`` with ``values-prod.yaml``) gives it: ``CBEC_ENV=production``, every secret a file under
its own stand-in of ``/run/secrets/cbec`` (database URL, Kafka password, PII keys, webhook keys, the
customs broker's URL), the tenant registry, API keys and per-tenant signing keys as mounted files, topic
creation off. The servers are production-like: Postgres with TLS only (a CA and a server certificate made
here; ``sslmode=verify-full``), Kafka with SASL/SCRAM and ACLs (each service its own user, each tenant
writing only its own intake topics), the DXP node's RabbitMQ with the topology declared by its operator.
What this host cannot be is listed in ``SITE``, each with its reason. Customs is the simulator behind
the AMQP node; it must get each document of the clearance exactly once, in prerequisite order.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from cbec import migrations
from cbec.bus.kafka import ensure_topics
from cbec.bus.security import client_options
from cbec.ceb import codec, dxp
from cbec.contracts import topics
from cbec.contracts.commands import INTAKE_TOPICS
from cbec.customs.amqp_link import AmqpLink
from cbec.declaration.doctypes import BY_CODE
from cbec.privacy.cipher import new_key
from cbec.settings import Settings, with_secret_files
from cbec.signing.certs import generate_sm2_identity
from cbec.store.event_store import EventStore
from cbec.tenants import TenantRegistry
from cbec_cli.kafka_acls import principals, service_user, tenant_user, trust_table
from cbec_testkit.customs.simulator import answered_files
from cbec_testkit.samples import declare_clearance
from cbec_testkit.tenants import DEMO_TENANTS
from conftest import SecureKafka
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import CommitFailedError
from kafka.structs import OffsetAndMetadata, TopicPartition
from saga_service import domain
from saga_service.application import stream_of
from service_processes import ServiceProcesses
from signer_service.clients import issue_client
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
RENDERED = ROOT / "k8s" / "prod.yaml"
SERVICES = ("order", "payment", "logistics", "inventory", "signer", "receipts", "saga")
STORES = ("order", "payment", "logistics", "inventory")  # event store + read model; receipts, saga: a store
REGISTRY = TenantRegistry.from_json(DEMO_TENANTS)
# Folders the pods mount (Secrets, ConfigMaps, volumes): each pod gets its own stand-in of them.
MOUNTED = ("/run/secrets/cbec/", "/etc/cbec/", "/etc/hsm/", "/var/lib/cbec/", "/tmp/")

# Where this host differs from the cluster values-prod.yaml describes, and why. Everything else is
# taken from the rendered Deployments as it is.
SITE: dict[str, str | None] = {
    # the test broker offers SASL/SCRAM without TLS (scripts/kafka-secure.sh): same mechanism and ACLs
    "CBEC_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "CBEC_KAFKA_SSL_CAFILE": None,
    # no OpenTelemetry collector here (its exporter would only retry against a missing host)
    "OTEL_EXPORTER_OTLP_ENDPOINT": None,
    # one host for every pod: each gets a free port instead of 8080 (set per service below)
    "CBEC_HTTP_HOST": "127.0.0.1",
}
# The signer: the chart's software backend (per-tenant PEM keys from the cbec-signer-keys Secret,
# values `signer.backend: software`) instead of the vendor's PKCS#11 module, which only the site has.
SOFTWARE_SIGNER: dict[str, str | None] = {
    "CBEC_SIGNER_BACKEND": "software",
    "CBEC_SIGNER_TENANTS_FILE": "/etc/cbec/signer-keys/tenants.json",
    "CBEC_SIGNER_HTTP_HOST": "127.0.0.1",
    "HSM_CLIENT_CONF": None, "CBEC_PKCS11_MODULE": None, "CBEC_PKCS11_PIN_FILE": None,
    "CBEC_PKCS11_TOKEN_LABEL": None, "CBEC_PKCS11_KEY_LABEL": None, "CBEC_PKCS11_ALGORITHM": None,
    "CBEC_PKCS11_SM2_INPUT": None, "CBEC_PKCS11_SM2_OUTPUT": None,
}


def rendered_environment(service: str) -> dict[str, str]:
    """The container environment of ``service``'s Deployment in k8s/prod.yaml (ConfigMap, then env)."""
    docs = [d for d in yaml.safe_load_all(RENDERED.read_text(encoding="utf-8")) if d]
    config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
    [deployment] = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == service]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env |= config_maps[source["configMapRef"]["name"]]
    env |= {e["name"]: str(e["value"]) for e in container.get("env", [])}
    return env


def rendered_topics() -> dict[str, dict[str, Any]]:
    """The Strimzi KafkaTopic resources of k8s/prod.yaml: topic name -> spec."""
    docs = [d for d in yaml.safe_load_all(RENDERED.read_text(encoding="utf-8")) if d]
    return {d["spec"].get("topicName", d["metadata"]["name"]): d["spec"] for d in docs if d["kind"] == "KafkaTopic"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- Postgres with TLS ---------------------------------------------------------------------------------

def _certificate(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, signer: Any, *,
                 ca: bool, names: list[x509.GeneralName] | None = None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(issuer).public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(signer, hashes.SHA256())


def make_server_certificate(folder: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for localhost signed by it: (ca.crt, server.crt, server.key)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cbec test database CA")])
    ca = _certificate("cbec test database CA", ca_key, ca_name, ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    server = _certificate("localhost", key, ca_name, ca_key, ca=False,
                          names=[x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "ca.crt", folder / "server.crt", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@dataclass(frozen=True)
class TlsPostgres:
    url: str  # postgresql://postgres:<pw>@localhost:<port>/cbec?sslmode=verify-full&sslrootcert=<ca>
    ca: Path


@pytest.fixture(scope="module")
def tls_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsPostgres]:
    """A throw-away cluster of scripts/postgres.sh in its TLS mode: TLS-only, password logins."""
    folder = tmp_path_factory.mktemp("tls-postgres")
    ca, cert, key = make_server_certificate(folder / "certs")
    stack = folder / "stack"
    env = {**os.environ, "CBEC_STACK_DIR": str(stack), "CBEC_PG_PORT": str(free_port()),
           "CBEC_PG_TLS_CERT": str(cert), "CBEC_PG_TLS_KEY": str(key), "CBEC_PG_TLS_CA": str(ca),
           "CBEC_PG_PASSWORD": secrets.token_urlsafe(16)}
    script = str(ROOT / "scripts" / "postgres.sh")
    done = subprocess.run(["bash", script, "start"], env=env, capture_output=True, text=True, timeout=180)
    try:
        assert done.returncode == 0, done.stderr[-3000:]
        [url] = [line.partition("=")[2] for line in done.stdout.splitlines() if line.startswith("DATABASE_URL=")]
        yield TlsPostgres(url, ca)
    finally:
        subprocess.run(["bash", script, "stop"], env=env, capture_output=True, timeout=120)
        location = stack / "postgres" / "pgdata.location"
        if location.exists():
            shutil.rmtree(location.read_text(encoding="utf-8").strip(), ignore_errors=True)


def create_schemas(settings: Settings) -> None:
    """The database schema of every service, made before any service starts by the migrations, as the
    chart's hook Job runs them (production services run no DDL and refuse a database behind head)."""
    db = settings.database
    done = migrations.upgrade(db.url, db.schema_prefix)
    assert done.head == migrations.head()


# -- Kafka as the platform team runs it ------------------------------------------------------------------

@dataclass(frozen=True)
class PlatformKafka:
    kafka: SecureKafka
    passwords: dict[str, str]

    def options(self, user: str) -> dict[str, Any]:
        return client_options(self.kafka.settings(user, self.passwords[user]))


def create_topics(kafka: SecureKafka) -> list[str]:
    """Every topic, as the platform team's KafkaTopic resources make them: the rendered ones, and this
    site's tenants' own topics like their rendered siblings (``cbec.in.order.<code>`` like
    ``cbec.in.order``). Partitions and configs as rendered, but one replica and min ISR 1 on this one
    broker. (A topic an earlier test of the session made is kept as it is.)"""
    rendered = rendered_topics()
    wanted = sorted(set(rendered) | {row.topic for row in trust_table(REGISTRY)})
    groups: dict[tuple[int, tuple[tuple[str, str], ...]], list[str]] = {}
    for name in wanted:
        model = rendered.get(name) or rendered[max((r for r in rendered if name.startswith(r + ".")), key=len)]
        configs = {k: str(v) for k, v in model.get("config", {}).items()} | {"min.insync.replicas": "1"}
        groups.setdefault((int(model["partitions"]), tuple(sorted(configs.items()))), []).append(name)
    admin = kafka.admin()
    for (partitions, configs), names in groups.items():
        ensure_topics(admin.bootstrap_servers, names, partitions, configs=dict(configs), **client_options(admin))
    return wanted


def fast_forward(platform: PlatformKafka, names: list[str]) -> None:
    """The services' consumer groups start at the end of every topic: the broker serves the whole test
    session, and earlier tests' messages are not this clearance's."""
    admin = platform.kafka.admin()
    options = client_options(admin)
    probe = KafkaConsumer(**options)
    try:
        partitions = [TopicPartition(t, p) for t in names for p in probe.partitions_for_topic(t) or ()]
    finally:
        probe.close()
    for group in [f"cbec-{s}" for s in SERVICES] + ["cbec-webhooks"]:
        consumer = KafkaConsumer(**options, group_id=group, enable_auto_commit=False)
        try:
            ends = consumer.end_offsets(partitions)
            # a member an earlier test left in the group holds it until its session ends
            for attempt in Retrying(retry=retry_if_exception_type(CommitFailedError), stop=stop_after_delay(150),
                                    wait=wait_fixed(1.0), reraise=True):
                with attempt:
                    consumer.commit({tp: OffsetAndMetadata(offset, "", -1) for tp, offset in ends.items()})
        finally:
            consumer.close()


@pytest.fixture(scope="module")
def platform_kafka(secure_kafka: SecureKafka, tmp_path_factory: pytest.TempPathFactory) -> PlatformKafka:
    """Each service and tenant its SCRAM user and ACLs (`cbec kafka-acls`, what the KafkaUsers carry),
    the topics created by the platform, not by the services."""
    passwords = {user: secrets.token_hex(12) for user in principals(REGISTRY)}
    folder = tmp_path_factory.mktemp("kafka-users")
    (folder / "tenants.json").write_text(json.dumps(DEMO_TENANTS), encoding="utf-8")
    (folder / "passwords").write_text("".join(f"{u}={pw}\n" for u, pw in passwords.items()), encoding="utf-8")
    env = {**os.environ, **secure_kafka.env(secure_kafka.admin_user, secure_kafka.admin_password),
           "CBEC_TENANTS_FILE": str(folder / "tenants.json")}
    done = subprocess.run([sys.executable, "-m", "cbec_cli.main", "kafka-acls", "--passwords",
                           str(folder / "passwords")], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    platform = PlatformKafka(secure_kafka, passwords)
    fast_forward(platform, create_topics(secure_kafka))
    return platform


# -- the DXP node ----------------------------------------------------------------------------------------

def declare_node(amqp_url: str, names: dict[str, str]) -> None:
    """The DXP node's operator declares its exchanges and queues (the chart says amqp.declare: false)."""
    link = AmqpLink(amqp_url, send_exchange=names["CBEC_CUSTOMS_AMQP_SEND_EXCHANGE"],
                    send_queue=names["CBEC_CUSTOMS_AMQP_SEND_QUEUE"],
                    receive_exchange=names["CBEC_CUSTOMS_AMQP_RECEIVE_EXCHANGE"],
                    receive_queue=names["CBEC_CUSTOMS_AMQP_RECEIVE_QUEUE"],
                    dxp_ids=[t.dxp_id for t in REGISTRY.all()], declare=True)
    try:
        assert link.fetch() == []
    finally:
        link.close()


# -- the pods ------------------------------------------------------------------------------------------

class Pod:
    """One service's process and its own stand-in for what the cluster mounts into its container."""

    def __init__(self, service: str, root: Path, site: dict[str, str | None]) -> None:
        self.service, self.root = service, root
        env = rendered_environment(service)
        for name, value in site.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        self.env = {name: self.path(value) if value.startswith(MOUNTED) else value for name, value in env.items()}

    def path(self, mounted: str) -> str:
        return str(self.root / mounted.lstrip("/"))

    def mount(self, mounted: str, content: str | bytes) -> Path:
        """Put ``content`` where the container would find ``mounted`` (a Secret or ConfigMap item)."""
        target = Path(self.path(mounted))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
        target.chmod(0o400)
        return target

    def secret_file(self, variable: str) -> str:
        """The container path a ``*_FILE`` variable of the rendered Deployment names."""
        path = self.env[variable]
        assert path.startswith(str(self.root / "run/secrets/cbec")), (variable, path)
        return "/" + str(Path(path).relative_to(self.root))


@dataclass
class ProductionStack:
    pods: dict[str, Pod]
    processes: dict[str, ServiceProcesses]
    kafka: PlatformKafka
    database_url: str
    journal: Path
    customs_outbox: Path

    def tails(self) -> str:
        return "\n".join(p.tails() for p in self.processes.values())


def signing_keys(pod: Pod) -> None:
    """The cbec-signer-keys Secret: an SM2 key and certificate per tenant, and the tenants file naming them."""
    tenants = []
    for tenant in REGISTRY.all():
        code = tenant.customs_code
        key_pem, cert_pem = generate_sm2_identity(code, tenant.name)
        tenants.append({"customs_code": code, "key_pem": str(pod.mount(f"/etc/cbec/signer-keys/{code}.key", key_pem)),
                        "cert_pem": str(pod.mount(f"/etc/cbec/signer-keys/{code}.pem", cert_pem))})
    pod.mount("/etc/cbec/signer-keys/tenants.json", json.dumps(tenants))


@pytest.fixture
def production_stack(tls_postgres: TlsPostgres, platform_kafka: PlatformKafka, amqp_url: str,
                     tmp_path: Path) -> Iterator[ProductionStack]:
    run = uuid.uuid4().hex[:8]
    node_names = {f"CBEC_CUSTOMS_AMQP_{kind}": f"cbec.dxp.{run}.{kind.lower()}"
                  for kind in ("SEND_EXCHANGE", "SEND_QUEUE", "RECEIVE_EXCHANGE", "RECEIVE_QUEUE")}
    declare_node(amqp_url, node_names)
    secure = platform_kafka.kafka
    shared = {"pii-keys": f"k1:{new_key()}", "pii-hmac-key": secrets.token_urlsafe(32)}
    pods: dict[str, Pod] = {}
    for service in SERVICES:
        port = str(free_port())
        site = {**SITE, "CBEC_KAFKA_BOOTSTRAP_SERVERS": secure.bootstrap, "CBEC_HTTP_PORT": port,
                **(SOFTWARE_SIGNER | {"CBEC_SIGNER_HTTP_PORT": port} if service == "signer" else {}),
                **(node_names if service == "receipts" else {})}
        pod = pods[service] = Pod(service, tmp_path / "pods" / service, site)
        env = pod.env
        assert env["CBEC_ENV"] == "production" and env["CBEC_KAFKA_CREATE_TOPICS"] == "0"
        pod.mount("/etc/cbec/tenants/tenants.json", json.dumps(DEMO_TENANTS))
        pod.mount(pod.secret_file("CBEC_KAFKA_PASSWORD_FILE"), platform_kafka.passwords[service_user(service)])
        if "CBEC_DATABASE_URL_FILE" in env:
            # the database URL Secret names the CA where the chart mounts database.caSecret
            ca = pod.mount("/etc/cbec/postgres/ca.crt", tls_postgres.ca.read_bytes())
            pod.mount(pod.secret_file("CBEC_DATABASE_URL_FILE"),
                      tls_postgres.url.replace(f"sslrootcert={tls_postgres.ca}", f"sslrootcert={ca}"))
        for item in ("pii-keys", "pii-hmac-key"):
            if f"CBEC_{item.upper().replace('-', '_')}_FILE" in env:
                pod.mount(f"/run/secrets/cbec/{item}", shared[item])
        for name in [n for n in env if n.startswith("CBEC_WEBHOOK_SECRET_") and n.endswith("_FILE")]:
            pod.mount(pod.secret_file(name), secrets.token_urlsafe(32))
        for name in ("CBEC_API_KEYS_FILE", "CBEC_OPERATOR_API_KEYS_FILE", "CBEC_DATA_OPEN_KEYS_FILE"):
            if name in env:  # no HTTP caller in this story: empty registries (every call would be 401)
                Path(env[name]).parent.mkdir(parents=True, exist_ok=True)
                Path(env[name]).write_text("[]", encoding="utf-8")
        if "CBEC_CUSTOMS_AMQP_URL_FILE" in env:
            pod.mount(pod.secret_file("CBEC_CUSTOMS_AMQP_URL_FILE"), amqp_url)
        if service == "signer":
            signing_keys(pod)
            _, client = issue_client([t.customs_code for t in REGISTRY.all()], "production stack test")
            pod.mount("/etc/cbec/signer-clients/clients.json", json.dumps([client.to_json()]))
        # every secret reaches the process as a file, never as a variable
        assert not {"CBEC_DATABASE_URL", "CBEC_KAFKA_PASSWORD", "CBEC_PII_KEYS", "CBEC_PII_HMAC_KEY",
                    "CBEC_CUSTOMS_AMQP_URL", "DATABASE_URL"} & set(env), service
    settings = Settings.from_environ(with_secret_files(pods["order"].env))
    create_schemas(settings)

    # customs' side: the simulator behind the node (not cbec's: development settings, its own folders)
    customs = tmp_path / "customs"
    journal = customs / "simulator-journal.txt"
    simulator_env = {"CBEC_CUSTOMS_TRANSPORT": "amqp", "CBEC_CUSTOMS_AMQP_URL": amqp_url, **node_names,
                     "CBEC_DXP_OUTBOX": str(customs / "outbox"), "CBEC_DXP_INBOX": str(customs / "inbox"),
                     "CBEC_SIMULATOR_DELAY": "0.2", "CBEC_SIMULATOR_JOURNAL": str(journal)}
    logs = tmp_path / "logs"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CBEC_", "DATABASE_URL", "KAFKA_", "SOFTHSM"))}
    processes = {name: ServiceProcesses({**clean, **pod.env}, logs) for name, pod in pods.items()}
    processes["simulator"] = ServiceProcesses({**clean, **simulator_env}, logs)
    stack = ProductionStack(pods, processes, platform_kafka, settings.database.url, journal, customs / "outbox")
    try:
        for name, running in processes.items():
            running.start(name)
        yield stack
    finally:
        for running in processes.values():
            running.stop()


def _arrivals(stack: ProductionStack) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in answered_files(stack.journal, stack.customs_outbox):
        msg = codec.parse(dxp.unwrap(path.read_bytes()).data)
        out += [(msg.type, doc) for doc in msg.docs]
    return out


def test_a_clearance_clears_on_the_production_settings(production_stack: ProductionStack) -> None:
    stack = production_stack
    order, payment, waybill, inventory = declare_clearance(int(time.time()) % 1_000_000, trade_mode="1210")
    # each enterprise declares as itself, on its own intake topic (the ACLs allow it nothing else)
    shared_topics = {code: topic for topic, code in INTAKE_TOPICS.items()}
    for command in (inventory, waybill, payment, order):  # the list first: held until its prerequisites
        producer = KafkaProducer(**stack.kafka.options(tenant_user(command.sender)), acks="all")
        key = ":".join(BY_CODE[command.doc_type].business_key(command.document))
        topic = topics.tenant_intake(shared_topics[command.doc_type], command.sender)
        producer.send(topic, key=key.encode(), value=command.to_json()).get(timeout=30)
        producer.close()

    key = f"{order.document['OrderHead']['ebpCode']}:{order.document['OrderHead']['orderNo']}"
    store = EventStore.open(stack.database_url, schema=Settings.from_environ(
        with_secret_files(stack.pods["saga"].env)).database.schema_for("saga"), name="saga")
    try:
        deadline = time.monotonic() + 300
        state = domain.fold(key, [])
        while time.monotonic() < deadline:
            state = domain.fold(key, [(e.type, e.data) for e in store.read(stream_of(key))])
            if state.docs.get("inventory") and state.docs["inventory"].status_code == 800:
                break
            time.sleep(1.0)
        else:
            pytest.fail(f"not released: {state.view()}\n{stack.tails()}", pytrace=False)
    finally:
        store.close()

    order_no = order.document["OrderHead"]["orderNo"]
    sent = [t for t, doc in _arrivals(stack) if BY_CODE[t].head_of(doc).get("orderNo") == order_no]
    assert sorted(sent) == ["CEB311", "CEB411", "CEB511", "CEB621"], sent  # each exactly once
    assert set(sent[:2]) == {"CEB311", "CEB411"} and sent[2:] == ["CEB511", "CEB621"], sent

    # the database took TLS connections only, and the buyer's ID number is nowhere in clear text
    plain = stack.database_url.replace("sslmode=verify-full", "sslmode=disable")
    with pytest.raises(psycopg.OperationalError, match="pg_hba.conf rejects"):
        psycopg.connect(plain).close()
    other_ca, _, _ = make_server_certificate(stack.journal.parent.parent / "other-ca")  # verify-full checks
    with pytest.raises(psycopg.OperationalError, match="SSL error|certificate verify failed"):
        psycopg.connect(re.sub(r"sslrootcert=[^&]+", f"sslrootcert={other_ca}", stack.database_url)).close()
    id_number = order.document["OrderHead"]["buyerIdNumber"]
    with psycopg.connect(stack.database_url) as conn:
        tables = conn.execute("SELECT table_schema, table_name FROM information_schema.tables"
                              " WHERE table_schema LIKE 'cbec_%'").fetchall()
        assert len(tables) > 10, tables
        for schema, table in tables:  # as text, and as the hex of a bytea column (event state)
            hit = conn.execute(f'SELECT count(*) FROM "{schema}"."{table}" t WHERE t::text LIKE %s'
                               " OR t::text LIKE %s", (f"%{id_number}%", f"%{id_number.encode().hex()}%")).fetchone()
            assert hit == (0,), f"{schema}.{table} holds the buyer's ID number in clear text"

    codes = {name: running.stop() for name, running in stack.processes.items()}
    assert all(c == {name: 0} for name, c in codes.items()), (codes, stack.tails())

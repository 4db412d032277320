"""The migrations on a real Postgres: from an empty database they make exactly the tables the services
make with their own code (the definitions a SQLite store still uses); running them again changes
nothing; `cbec migrate --check` tells a database behind from one at head; two runners take turns; and
a production service never migrates: it refuses to start on a database behind head, with one JSON
line, and starts on a migrated one."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cbec import migrations
from cbec.migrations.startup import SchemaNotAtHead, prepare_database
from cbec.privacy.cipher import AesGcmCipher, new_key
from cbec.readmodel import ReadModel
from cbec.readmodel.tables import open_engine
from cbec.settings import Settings
from cbec.store.event_store import EventStore
from cbec_cli.run import BOOTSTRAPS
from cbec_testkit.tenants import DEMO_TENANTS, demo_registry
from conftest import SecureKafka
from console_service.accounts import SqlAccounts
from console_service.stores import ConsoleTables
from receipts_service.bootstrap import transport
from service_processes import ServiceProcesses, process_env
from sqlalchemy import inspect, text

pytestmark = pytest.mark.integration

DECLARATION_SERVICES = ("order", "payment", "logistics", "inventory")


@pytest.fixture
def prefixes(database_url: str) -> Iterator[Any]:
    """Fresh schema prefixes (``t<hex>_``); every schema under them is dropped after the test."""
    made: list[str] = []

    def new() -> str:
        made.append(f"t{uuid.uuid4().hex[:10]}_")
        return made[-1]

    yield new
    with psycopg.connect(database_url, autocommit=True) as conn:
        for prefix in made:
            for (schema,) in conn.execute("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)",
                                          (prefix,)).fetchall():
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def settings_for(url: str, prefix: str, tmp_path: Path, **more: str) -> Settings:
    return Settings.from_environ({"CBEC_DATABASE_URL": url, "CBEC_SCHEMA_PREFIX": prefix,
                                  "CBEC_DXP_OUTBOX": str(tmp_path / "outbox"),
                                  "CBEC_DXP_INBOX": str(tmp_path / "inbox"), **more})


def services_make_their_own_tables(url: str, prefix: str, tmp_path: Path) -> None:
    """Every service built by its bootstrap on stores that make their own tables (the start-up DDL
    services ran before the migrations, and what a SQLite store still runs)."""
    settings = settings_for(url, prefix, tmp_path)
    tenants = demo_registry()
    opened: list[Any] = []

    def store(name: str) -> EventStore:
        opened.append(EventStore.open(url, schema=prefix + name, name=name, create=True))
        return opened[-1]

    for name in DECLARATION_SERVICES:
        readmodel = ReadModel.open(url, name, schema=prefix + name, create=True)
        opened.append(readmodel)
        service = importlib.import_module(BOOTSTRAPS[name]).build(settings, tenants, store(name), readmodel=readmodel)
        opened += [close for close in service.on_close]
    saga = importlib.import_module(BOOTSTRAPS["saga"]).build(settings, tenants, store("saga"))
    receipts = importlib.import_module(BOOTSTRAPS["receipts"]).build(settings, tenants, store("receipts"),
                                                                      transport(settings, tenants))
    opened += [*saga.on_close, *receipts.on_close]
    console = open_engine(url, pool_size=1, max_overflow=0)
    SqlAccounts(console, schema=prefix + "console").create()  # the web console's users
    ConsoleTables(console, AesGcmCipher.from_spec(f"k1:{new_key()}"), prefix + "console").create()  # its drafts
    console.dispose()
    for item in reversed(opened):
        if isinstance(item, EventStore | ReadModel):
            item.close()
        else:
            item()


def schema_of(url: str, prefix: str) -> dict[str, Any]:
    """Every table of the prefix's service schemas as SQLAlchemy inspects it (columns, keys, indexes),
    with the storage options, composite types, functions and the event store's tracking marker; the
    schema's own name is written ``<s>`` wherever it appears."""
    engine = open_engine(url, pool_size=1, max_overflow=0)
    found: dict[str, Any] = {}
    try:
        look = inspect(engine)
        schemas = [s for s in look.get_schema_names()
                   if s.startswith(prefix) and s != migrations.version_schema(prefix)]
        for schema in schemas:
            def plain(value: Any, schema: str = schema) -> Any:
                return None if value is None else str(value).replace(schema, "<s>")

            for table in look.get_table_names(schema=schema):
                found[f"{schema[len(prefix):]}.{table}"] = {
                    "columns": [(c["name"], str(c["type"]), c["nullable"], plain(c.get("default")))
                                for c in look.get_columns(table, schema=schema)],
                    "primary key": look.get_pk_constraint(table, schema=schema)["constrained_columns"],
                    "unique": sorted((u["name"], tuple(u["column_names"]))
                                     for u in look.get_unique_constraints(table, schema=schema)),
                    "indexes": sorted((plain(i["name"]), tuple(i["column_names"]), i["unique"])
                                      for i in look.get_indexes(table, schema=schema)),
                }
        with engine.connect() as conn:
            for schema in schemas:
                short = schema[len(prefix):]
                found[f"{short} storage options"] = sorted(
                    (r.relname, tuple(r.reloptions or ())) for r in conn.execute(text(
                        "SELECT relname, reloptions FROM pg_class WHERE relnamespace = CAST(:s AS regnamespace)"
                        " AND relkind = 'r'"), {"s": schema}))
                found[f"{short} types and functions"] = sorted(
                    [("type", r[0]) for r in conn.execute(text(
                        "SELECT typname FROM pg_type WHERE typnamespace = CAST(:s AS regnamespace)"
                        " AND typtype = 'c' AND typrelid IN (SELECT oid FROM pg_class WHERE relkind = 'c')"),
                        {"s": schema})]
                    + [("function", plain(r[0], schema)) for r in conn.execute(text(
                        "SELECT pg_get_functiondef(p.oid) FROM pg_proc p"
                        " WHERE p.pronamespace = CAST(:s AS regnamespace)"), {"s": schema})])
                if short in (*DECLARATION_SERVICES, "saga", "receipts"):
                    found[f"{short} tracking marker"] = conn.execute(text(
                        f'SELECT notification_id FROM "{schema}"."{short}_tracking"'
                        " WHERE application_name = '__migration__'")).scalar()
    finally:
        engine.dispose()
    return found


def cbec(*args: str, url: str, prefix: str, **env: str) -> subprocess.CompletedProcess[str]:
    """A ``cbec`` command on the database ``url`` and the schemas of ``prefix``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CBEC_")}
    return subprocess.run([sys.executable, "-m", "cbec_cli.main", *args], capture_output=True, text=True, timeout=120,
                          env={**environ, "CBEC_DATABASE_URL": url, "CBEC_SCHEMA_PREFIX": prefix, **env})


def test_an_empty_database_migrates_to_exactly_the_tables_the_services_make(database_url: str, prefixes: Any,
                                                                              tmp_path: Path) -> None:
    by_services, by_migrations = prefixes(), prefixes()
    services_make_their_own_tables(database_url, by_services, tmp_path)
    done = migrations.upgrade(database_url, by_migrations)

    assert (done.current, done.head) == (None, migrations.head())
    made = schema_of(database_url, by_migrations)
    assert made == schema_of(database_url, by_services)
    for table in ("order.order_events", "order.order_tracking", "order.order_documents",
                  "order.order_data_open_requests", "inventory.inventory_readmodel_tracking",
                  "receipts.receipts_events", "saga.saga_deadlines", "saga.saga_webhooks",
                  "saga.saga_notifications", "saga.saga_notification_tenants", "saga.saga_documents",
                  "console.console_users", "console.console_enterprises"):
        assert table in made  # (the comparison above is not between two empty schemas)


def test_migrating_again_changes_nothing_and_a_database_of_an_older_version_adopts_the_baseline(
        database_url: str, prefixes: Any, tmp_path: Path) -> None:
    fresh = prefixes()
    migrations.upgrade(database_url, fresh)
    before = schema_of(database_url, fresh)
    again = migrations.upgrade(database_url, fresh)
    assert again.current == again.head == migrations.head()
    assert schema_of(database_url, fresh) == before

    older = prefixes()  # made by the services' start-up DDL of the versions before migrations
    services_make_their_own_tables(database_url, older, tmp_path)
    made_by_services = schema_of(database_url, older)
    adopted = migrations.upgrade(database_url, older)
    assert (adopted.current, adopted.head) == (None, migrations.head())
    assert schema_of(database_url, older) == made_by_services


def test_two_runners_at_once_take_turns(database_url: str, prefixes: Any) -> None:
    prefix = prefixes()
    results: list[migrations.Revisions] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(migrations.upgrade(database_url, prefix))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    runners = [threading.Thread(target=run) for _ in range(3)]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join(timeout=120)
    assert errors == []
    assert sorted(str(r.current) for r in results) == sorted(["None", *[migrations.head()] * 2])


def test_check_fails_on_a_database_behind_head_and_passes_at_head(database_url: str, prefixes: Any) -> None:
    prefix = prefixes()
    behind = cbec("migrate", "--check", url=database_url, prefix=prefix)
    assert behind.returncode == 1
    assert json.loads(behind.stdout) == {"current": None, "head": migrations.head(), "atHead": False}
    assert "never migrated" in behind.stderr and f"head is {migrations.head()}" in behind.stderr

    migrated = cbec("migrate", url=database_url, prefix=prefix)
    assert migrated.returncode == 0, migrated.stderr
    assert json.loads(migrated.stdout) == {"from": None, "to": migrations.head()}

    at_head = cbec("migrate", "--check", url=database_url, prefix=prefix)
    assert at_head.returncode == 0, at_head.stderr
    assert json.loads(at_head.stdout)["atHead"] is True
    again = cbec("migrate", url=database_url, prefix=prefix)
    assert json.loads(again.stdout) == {"from": migrations.head(), "to": migrations.head()}


def test_a_development_service_migrates_at_start_and_off_only_checks(database_url: str, prefixes: Any,
                                                                     tmp_path: Path) -> None:
    auto, off = prefixes(), prefixes()
    assert prepare_database(settings_for(database_url, auto, tmp_path)) is False  # its stores make nothing
    assert migrations.status(database_url, auto).at_head

    with pytest.raises(SchemaNotAtHead):
        prepare_database(settings_for(database_url, off, tmp_path, CBEC_DB_MIGRATE="off"))
    assert schema_of(database_url, off) == {}
    production = settings_for(database_url, auto, tmp_path, CBEC_ENV="production", CBEC_DB_MIGRATE="auto")
    assert not production.migrates_at_start  # production never migrates, whatever CBEC_DB_MIGRATE says
    assert prepare_database(production) is False


def test_a_production_service_refuses_to_start_on_an_unmigrated_database(database_url: str, prefixes: Any,
                                                                         tmp_path: Path) -> None:
    prefix = prefixes()
    tenants = tmp_path / "tenants.json"
    tenants.write_text(json.dumps(DEMO_TENANTS), encoding="utf-8")
    done = cbec("run", "order", url=database_url, prefix=prefix, CBEC_ENV="production",
                CBEC_TENANTS_FILE=str(tenants), CBEC_PII_KEYS=f"k1:{new_key()}",
                CBEC_PII_HMAC_KEY="production-test-key")

    assert done.returncode != 0
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]  # every line is JSON
    [refusal] = [line for line in lines if line["level"] == "CRITICAL"]
    assert refusal["message"].startswith("refusing to start") and "cbec migrate" in refusal["message"]
    assert (refusal["current_revision"], refusal["head_revision"]) == (None, migrations.head())
    assert "Traceback" not in done.stderr
    assert schema_of(database_url, prefix) == {}  # it made nothing


def test_a_production_service_starts_on_a_migrated_database(secure_kafka: SecureKafka, database_url: str,
                                                            tmp_path: Path) -> None:
    tenants = tmp_path / "tenants.json"
    tenants.write_text(json.dumps(DEMO_TENANTS), encoding="utf-8")
    env = process_env(secure_kafka.bootstrap, database_url, tmp_path, CBEC_ENV="production",
                      CBEC_TENANTS_FILE=str(tenants), CBEC_PII_HMAC_KEY="production-test-key",
                      CBEC_READY_FILE=str(tmp_path / "order.ready"),
                      **secure_kafka.env(secure_kafka.admin_user, secure_kafka.admin_password))
    processes = ServiceProcesses(env, tmp_path / "logs")
    processes.migrate()
    try:
        processes.start("order")
        assert (tmp_path / "order.ready").exists()
    finally:
        codes = processes.stop()
    assert codes == {"order": 0}, processes.tails()
    assert "refusing" not in (tmp_path / "logs" / "order.log").read_text(errors="replace")

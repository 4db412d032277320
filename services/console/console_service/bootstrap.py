"""`cbec run console` builds the console here from the settings tree: its users' store, the platform it
calls (the production services' HTTP APIs; in development a sandbox platform embedded in the process),
and the HTTP server on ``CBEC_HTTP_PORT`` (8080 when unset)."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from cbec.bus.security import client_options
from cbec.metrics import exposition
from cbec.migrations.startup import prepare_database
from cbec.privacy.cipher import AesGcmCipher
from cbec.readmodel.tables import open_engine
from cbec.settings import Settings
from cbec.tenants import TenantRegistry
from fastapi import FastAPI, Response

from console_service.accounts import Accounts, ConsoleRole, Environment, MemoryAccounts, Passwords, SqlAccounts, User
from console_service.app import ConsoleConfig, create_app, submit_batch
from console_service.batches import Workbench
from console_service.consumer_lag import KafkaLagSource, LagSampler
from console_service.handoff import HandOffs
from console_service.operator_agent import OperatorAgent, operator_agent
from console_service.operator_stats import StatsSource
from console_service.platform import Platform, remote
from console_service.stores import ConsoleTables, SqlHandOffs, SqlWorkbench

log = logging.getLogger(__name__)
DEFAULT_PORT = 8080


class ConsoleMisconfigured(SystemExit):
    def __init__(self, problem: str) -> None:
        super().__init__(f"cbec console: {problem}")


def open_accounts(settings: Settings) -> Accounts:
    """The users' store alone (``cbec console create-operator``; see :func:`open_stores`)."""
    return open_stores(settings, accounts_only=True)[0]


def open_stores(settings: Settings, *, accounts_only: bool = False) -> tuple[Accounts, Workbench, HandOffs]:
    """The users, import drafts and batches, and hand-off parcels: ``CBEC_CONSOLE_DATABASE_URL`` with
    SQLAlchemy (production: else ``CBEC_DATABASE_URL``), the drafts', batches' and parcels' personal data
    encrypted with ``CBEC_PII_KEYS``; in development without a URL, this process's memory (and without PII
    keys the drafts, batches and parcels stay in memory rather than in clear text)."""
    own = settings.console.database_url
    if own is None and not settings.production:
        return MemoryAccounts(), Workbench(), HandOffs()
    cipher = None if accounts_only else AesGcmCipher.from_spec(settings.pii.key_spec())
    if cipher is None and settings.production and not accounts_only:
        raise ConsoleMisconfigured("CBEC_PII_KEYS is required in production (stored drafts hold personal data)")
    url = own.get_secret_value() if own else settings.database.url
    engine = open_engine(url, pool_size=2, max_overflow=2)
    schema = settings.database.schema_for("console")
    accounts = SqlAccounts(engine, schema=schema)
    tables = ConsoleTables(engine, cipher, schema) if cipher is not None else None
    if url == settings.database.url:
        makes_tables = prepare_database(settings)  # the platform's database: the migrations make them
    else:  # a database of its own: `cbec migrate` with CBEC_DATABASE_URL naming it makes them in production
        makes_tables = not settings.production
    if makes_tables:
        accounts.create()
        if tables is not None:
            tables.create()
    if tables is None:
        if not accounts_only:
            log.warning("cbec console: no CBEC_PII_KEYS: import drafts, batches and hand-offs stay in memory")
        return accounts, Workbench(), HandOffs()
    return accounts, SqlWorkbench(tables), SqlHandOffs(tables)


def _json_object(text: str, name: str) -> dict[str, str]:
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        raise ConsoleMisconfigured(f"{name} is not JSON") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ConsoleMisconfigured(f"{name} must be a JSON object of strings")
    return {str(k): v for k, v in data.items()}


@dataclass
class ConsoleProcess:
    """The console's HTTP server and what it must close."""

    config: ConsoleConfig
    port: int
    host: str
    ready_file: Path | None
    closers: list[Any] = field(default_factory=list)
    agents: list[OperatorAgent] = field(default_factory=list)  # started and stopped with the server
    samplers: list[LagSampler] = field(default_factory=list)  # their slow timers run with the server

    def app(self) -> FastAPI:
        api = create_app(self.config)
        ready = self.ready_file
        started: list[bool] = []

        # the probes and the scrape every cbec process serves on its port (cbec.runtime's names)
        @api.get("/livez")
        def livez() -> dict[str, str]:
            return {"status": "ok"}

        @api.get("/readyz")
        def readyz() -> Response:
            return Response("ready" if started else "starting", status_code=200 if started else 503)

        @api.get("/metrics")
        def metrics() -> Response:
            return Response(exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")

        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            if ready is not None:
                ready.parent.mkdir(parents=True, exist_ok=True)
                ready.write_text("console", encoding="utf-8")
            for agent in self.agents:
                await agent.start()
            timers = [asyncio.create_task(sampler.run()) for sampler in self.samplers]
            resumed = self.resume_batches()
            started.append(True)
            print(f"cbec console: ready at http://127.0.0.1:{self.port}/", flush=True)
            yield
            started.clear()
            for task in [*resumed, *timers]:
                task.cancel()
            for agent in self.agents:
                await agent.stop()
            for close in self.closers:
                close()

        api.router.lifespan_context = lifespan
        return api

    def resume_batches(self) -> list[asyncio.Task[None]]:
        """Declare the pending items of batches a restart interrupted (each item's stored ``commandId``
        makes a second declaration of one already taken a duplicate, never a second document)."""
        config, tasks = self.config, []
        for batch in config.workbench.unfinished():
            environment = config.accounts.environment(batch.enterprise)
            platform = config.platforms.get(environment)
            if platform is None or platform.environment != environment:
                continue
            tasks.append(asyncio.create_task(submit_batch(platform, batch, config.workbench.save_batch)))
        return tasks

    def run(self) -> None:
        uvicorn.run(self.app(), host=self.host, port=self.port, log_level="warning")


SandboxFactory = Callable[[TenantRegistry], tuple[Platform, Callable[[], None]]]


def process(settings: Settings, tenants: TenantRegistry, sandbox: SandboxFactory | None = None) -> ConsoleProcess:
    """The console process from ``settings`` (production: a session secret and the services' URLs);
    ``sandbox`` makes the sandbox platform and its closer (development: the CLI passes the test kit's)."""
    own = settings.console
    if settings.production and own.session_secret is None:
        raise ConsoleMisconfigured("CBEC_CONSOLE_SESSION_SECRET is required in production")
    if settings.production and not (own.service_urls and own.api_keys):
        raise ConsoleMisconfigured("production needs CBEC_CONSOLE_SERVICE_URLS and CBEC_CONSOLE_API_KEYS")
    secret = own.session_secret.get_secret_value() if own.session_secret else secrets.token_urlsafe(32)
    keys = _json_object(own.api_keys.get_secret_value() if own.api_keys else "", "CBEC_CONSOLE_API_KEYS")
    urls = _json_object(own.service_urls, "CBEC_CONSOLE_SERVICE_URLS")
    platforms: dict[Environment, Platform | None] = {Environment.PRODUCTION: None, Environment.SANDBOX: None}
    closers: list[Any] = []
    stats: dict[Environment, StatsSource] = {}
    agents: list[OperatorAgent] = []
    if urls:
        platforms[Environment.PRODUCTION] = remote("production", urls, keys)
    if sandbox is not None and not settings.production and own.sandbox == "embedded":
        platforms[Environment.SANDBOX], close = sandbox(tenants)
        closers.append(close)
        embedded = getattr(platforms[Environment.SANDBOX], "operator_stats", None)
        if embedded is not None:
            stats[Environment.SANDBOX] = embedded
    lag: dict[Environment, LagSampler] = {}
    if own.operator_stats == "kafka":
        agent = operator_agent(settings.kafka.bootstrap_servers, partitions=settings.kafka.topic_partitions,
                               datadir=tempfile.mkdtemp(prefix="cbec-operator-"), kafka=settings.kafka)
        agents.append(agent)
        stats[Environment.PRODUCTION] = agent
        source = KafkaLagSource(client_options(settings.kafka))
        lag[Environment.PRODUCTION] = LagSampler(source)
        closers.append(source.close)
    accounts, workbench, handoffs = open_stores(settings)
    passwords = Passwords()
    if own.demo_users and not settings.production:
        seed_demo_users(accounts, passwords, tenants)
    config = ConsoleConfig(secret, tenants, accounts, platforms, passwords=passwords, https_only=settings.production,
                           operator_stats=stats, workbench=workbench, handoffs=handoffs, consumer_lag=lag)
    return ConsoleProcess(config, settings.process.http_port or DEFAULT_PORT, settings.process.http_host,
                          settings.process.ready_file, closers, agents, list(lag.values()))


def seed_demo_users(accounts: Accounts, passwords: Passwords, tenants: TenantRegistry) -> None:
    """Development: an operator user per tenant (``<code>-operator``), passwords printed once here."""
    for tenant in tenants.all():
        name = f"{tenant.customs_code}-operator"
        if accounts.user(name) is not None:
            continue
        password = secrets.token_urlsafe(12)
        accounts.add_user(User(name, passwords.hash(password), {tenant.customs_code: ConsoleRole.OPERATOR}))
        print(f"cbec console: demo user {name} password {password} ({tenant.name})", flush=True)

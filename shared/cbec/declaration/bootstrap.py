"""What every declaration service's bootstrap shares: its store, its settings applied to the app, and
its parts (intake consumer, outbox route, read-model projection, HTTP API) as a :class:`Service`.
``services/<name>/<pkg>/bootstrap.py`` names its :class:`DeclarationBootstrap`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol, Unpack

from cbec import production
from cbec.auth.keys import ApiKeyRegistry
from cbec.bus.ports import Subscription
from cbec.contracts import topics
from cbec.declaration import parking_sweep, routing
from cbec.declaration.application import DeclarationApp
from cbec.declaration.batch_intake import batch_handler
from cbec.declaration.batching import BatchingDeclarations
from cbec.declaration.core import EngineOptions
from cbec.declaration.dispatch import handlers, poison_sink
from cbec.declaration.http import make_http_app
from cbec.declaration.ports import DeclarationStore
from cbec.intake_limits import IntakeLimits
from cbec.migrations.startup import prepare_database, stores_make_tables
from cbec.privacy.cipher import AesGcmCipher
from cbec.readmodel import Projection, ReadModel, StoreSource
from cbec.runtime import ServiceProcess
from cbec.service import Consumes, Outbox, Service, as_process
from cbec.settings import Settings
from cbec.store.event_store import EventStore
from cbec.store.events import RecordedEvent
from cbec.tenants import TenantRegistry


class AppBuilder(Protocol):
    """A service's ``application.build``: its policies on the shared lifecycle engine."""

    def __call__(
        self, store: DeclarationStore, tenants: TenantRegistry, **options: Unpack[EngineOptions]
    ) -> DeclarationApp: ...


def engine_options(settings: Settings) -> EngineOptions:
    """What the lifecycle engine takes from the settings tree."""
    limits = settings.intake_limits
    return EngineOptions(
        redeclare_app_type=settings.declaration.redeclare_app_type,
        gate=settings.saga.gate,
        limits=IntakeLimits(limits.max_body_bytes, limits.json_max_depth, limits.max_findings),
        receipt_max_skew=timedelta(seconds=settings.saga.receipt_max_skew),
    )


@dataclass(frozen=True)
class DeclarationBootstrap:
    """A declaration service's ``build`` (on the adapters the caller passes), ``process`` (on Kafka and
    the configured database) and production ``check``; ``buyer_keys`` where the service pseudonymises
    buyers (the quota), so production refuses the development buyer key."""

    name: str
    application: AppBuilder
    buyer_keys: bool = False

    def application_for(self, settings: Settings) -> AppBuilder:
        """The application builder for ``settings`` (a service whose app reads more settings says so here)."""
        return self.application

    def build(
        self, settings: Settings, tenants: TenantRegistry, store: EventStore, *, readmodel: ReadModel | None = None
    ) -> Service:
        """The service on ``store`` (intake batches commit in one transaction each), with
        the engine's settings (:func:`engine_options`) applied."""
        declarations = BatchingDeclarations(store)
        app = self.application_for(settings)(declarations, tenants, **engine_options(settings))
        return service(self.name, app, store, declarations, settings, readmodel)

    def check(self, settings: Settings) -> None:
        """Refuse production on demo tenants or unencrypted personal data (and on the development buyer
        key where the quota uses it)."""
        problems = production.tenants_problems(settings) + production.personal_data_problems(settings)
        if self.buyer_keys:
            problems += production.buyer_key_problems(settings)
        production.require(settings, problems)

    def process(self, settings: Settings, tenants: TenantRegistry) -> ServiceProcess:
        """The service as a process on Kafka and the configured database."""
        self.check(settings)
        store = open_store(settings, self.name)
        return as_process(self.build(settings, tenants, store, readmodel=open_readmodel(settings, self.name)),
                          settings)


def open_store(settings: Settings, service: str) -> EventStore:
    """The service's event store, its personal data encrypted under ``CBEC_PII_KEYS`` when set; on
    Postgres first the database is migrated, or checked (:func:`cbec.migrations.startup.prepare_database`)."""
    create = prepare_database(settings)
    cipher = AesGcmCipher.from_spec(settings.pii.key_spec())
    db = settings.database
    return EventStore.open(db.url, schema=db.schema_for(service), name=service, cipher=cipher,
                           pool_size=db.pool_size, max_overflow=db.max_overflow, create=create)


def readmodel_url(url: str) -> str:
    """The read model's database: the same Postgres, or a file of its own beside a SQLite event store."""
    if url.startswith("sqlite:///") and url.endswith(".db"):
        return url[: -len(".db")] + "-readmodel.db"
    return url


def open_readmodel(settings: Settings, service: str) -> ReadModel:
    db = settings.database
    return ReadModel.open(readmodel_url(db.url), service, schema=db.schema_for(service), pool_size=db.pool_size,
                          max_overflow=db.max_overflow, create=stores_make_tables(settings))


def service(
    name: str,
    app: DeclarationApp,
    store: EventStore,
    declarations: BatchingDeclarations,
    settings: Settings,
    readmodel: ReadModel | None = None,
) -> Service:
    """The service's parts; with a read model, a projection poller and the HTTP API too."""
    shared_intake = not settings.production  # production reads only the tenants' own intake topics
    table = handlers(app, shared_intake=shared_intake)
    cipher = AesGcmCipher.from_spec(settings.pii.key_spec())

    def route(event: RecordedEvent) -> list[tuple[str, str, bytes]]:
        return routing.route(name, event.stream_id, event.version, event.type, event.data, cipher)

    parts = Service(
        name,
        app,
        consumes=[Consumes(Subscription(tuple(table), f"cbec-{name}"),
                           batch_handler=batch_handler(name, app, declarations, shared_intake=shared_intake),
                           dead_letter=poison_sink(declarations))],
        outboxes=[Outbox(store, settings.database.schema_for(name), route, routing.too_large(name))],
        topics=[*table, topics.events(name), topics.SIGN_REQUESTS, topics.dead_letters(name)],
    )
    if parking_sweep.sweeps(app):
        app.results_parked_max = settings.declaration.results_parked_max
        parts.pollers.append(parking_sweep.sweeper(app, settings.declaration.results_parked_max_days))
    if readmodel is not None:
        projection = Projection(StoreSource(store), readmodel)
        parts.pollers.append(projection.woken_by(store))
        keys = settings.api_keys
        auth = ApiKeyRegistry.load(keys.file, keys.inline.get_secret_value() if keys.inline else None)
        parts.http_app = make_http_app(app, name, auth=auth, readmodel=readmodel, projection=projection)
    return parts

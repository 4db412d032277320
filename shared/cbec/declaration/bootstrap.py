"""What every declaration service's bootstrap shares: its store, its settings applied to the app, and
its parts (intake consumer, outbox route, read-model projection, HTTP API) as a :class:`Service`."""

from __future__ import annotations

from cbec import production
from cbec.auth.keys import ApiKeyRegistry
from cbec.bus.ports import Subscription
from cbec.contracts import topics
from cbec.declaration import routing
from cbec.declaration.application import DeclarationApp
from cbec.declaration.batch_intake import batch_handler
from cbec.declaration.batching import BatchingDeclarations
from cbec.declaration.dispatch import handlers, poison_sink
from cbec.declaration.http import make_http_app
from cbec.privacy.cipher import AesGcmCipher
from cbec.readmodel import Projection, ReadModel, StoreSource
from cbec.service import Consumes, Outbox, Service
from cbec.settings import Settings
from cbec.store.event_store import EventStore
from cbec.store.events import RecordedEvent


def check(settings: Settings, *, buyer_keys: bool = False) -> None:
    """Refuse production on demo tenants or unencrypted personal data (and the development buyer key
    where the quota uses it)."""
    problems = production.tenants_problems(settings) + production.personal_data_problems(settings)
    if buyer_keys:
        problems += production.buyer_key_problems(settings)
    production.require(settings, problems)


def open_store(settings: Settings, service: str) -> EventStore:
    """The service's event store, its personal data encrypted under ``CBEC_PII_KEYS`` when set."""
    cipher = AesGcmCipher.from_spec(settings.pii.key_spec())
    return EventStore.open(settings.database.url, schema=settings.database.schema_for(service), name=service,
                           cipher=cipher)


def readmodel_url(url: str) -> str:
    """The read model's database: the same Postgres, or a file of its own beside a SQLite event store."""
    if url.startswith("sqlite:///") and url.endswith(".db"):
        return url[: -len(".db")] + "-readmodel.db"
    return url


def open_readmodel(settings: Settings, service: str) -> ReadModel:
    return ReadModel.open(readmodel_url(settings.database.url), service, schema=settings.database.schema_for(service))


def configure(app: DeclarationApp, settings: Settings) -> DeclarationApp:
    """Apply ``CBEC_REDECLARE_APP_TYPE`` and ``CBEC_SAGA_GATE`` to a service's application."""
    app.redeclare_app_type = settings.declaration.redeclare_app_type
    app.gate = settings.saga.gate
    return app


def service(
    name: str,
    app: DeclarationApp,
    store: EventStore,
    declarations: BatchingDeclarations,
    settings: Settings,
    readmodel: ReadModel | None = None,
) -> Service:
    """The service's parts; with a read model, a projection poller and the HTTP API too."""
    table = handlers(app)
    cipher = AesGcmCipher.from_spec(settings.pii.key_spec())

    def route(event: RecordedEvent) -> list[tuple[str, str, bytes]]:
        return routing.route(name, event.stream_id, event.version, event.type, event.data, cipher)

    parts = Service(
        name,
        app,
        consumes=[Consumes(Subscription(tuple(table), f"cbec-{name}"),
                           batch_handler=batch_handler(name, app, declarations),
                           dead_letter=poison_sink(declarations))],
        outboxes=[Outbox(store, settings.database.schema_for(name), route, routing.too_large(name))],
        topics=[*table, topics.events(name), topics.SIGN_REQUESTS, topics.dead_letters(name)],
    )
    if readmodel is not None:
        projection = Projection(StoreSource(store), readmodel)
        parts.pollers.append(projection.run_once)
        keys = settings.api_keys
        auth = ApiKeyRegistry.load(keys.file, keys.inline.get_secret_value() if keys.inline else None)
        parts.http_app = make_http_app(app, name, auth=auth, readmodel=readmodel, projection=projection)
    return parts

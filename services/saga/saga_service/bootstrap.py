"""`cbec run saga`, the embedded demo and the tests build the saga here: declaration events in → saga
commands and status out; status out → tenants' notifications (pulled, and pushed to their webhooks)."""

from __future__ import annotations

from datetime import timedelta

from cbec import production
from cbec.auth.keys import ApiKeyRegistry
from cbec.bus.ports import Subscription
from cbec.clock import Clock, SystemClock
from cbec.contracts import topics
from cbec.contracts.dead_letter import DEAD_LETTERED
from cbec.declaration.dispatch import poison_sink
from cbec.declaration.eventstore_adapter import EventStoreDeclarations
from cbec.declaration.routing import dead_letter_message
from cbec.metrics import Sampled, cached
from cbec.migrations.startup import prepare_database
from cbec.net.callbacks import CallbackGuard
from cbec.privacy.cipher import AesGcmCipher
from cbec.runtime import ServiceProcess, leased
from cbec.service import Consumes, Outbox, Service, as_process
from cbec.settings import Settings
from cbec.store.event_store import EventStore
from cbec.store.events import RecordedEvent
from cbec.store.leases import lease_for
from cbec.tenants import TenantRegistry

from saga_service import circuits, notifications, webhooks
from saga_service.api import make_http_app
from saga_service.application import NAME, SagaApp, input_topics, policy_from, route
from saga_service.metrics import DocumentGauges
from saga_service.notification_store import NotificationStore
from saga_service.settings import SecretLookup


def notifier(settings: Settings, tenants: TenantRegistry, store: EventStore, *, clock: Clock | None = None,
             post: webhooks.Post | None = None) -> webhooks.WebhookNotifier:
    """Webhook delivery with the configured policy and HMAC keys (``post``: to checked addresses only,
    https only in production, with httpx)."""
    hooks = settings.webhooks
    post = post or webhooks.guarded_post(CallbackGuard(production=settings.production), hooks.timeout)
    return webhooks.WebhookNotifier(
        store, tenants, SecretLookup(hooks), post=post, clock=clock,
        max_attempts=hooks.max_attempts, backoff=timedelta(seconds=hooks.backoff))


def notifier_for(settings: Settings, tenants: TenantRegistry, store: EventStore, *, clock: Clock | None = None,
                 post: webhooks.Post | None = None) -> notifications.Notifier:
    """The notification service on tables beside ``store``, with the webhook keys, timeout and backoff
    and the notification settings (retention, probe backoff cap, pruning)."""
    hooks, own = settings.webhooks, settings.notifications
    post = post or webhooks.guarded_post(CallbackGuard(production=settings.production), hooks.timeout)
    return notifications.Notifier(
        NotificationStore.beside(store), tenants, SecretLookup(hooks), post=post, clock=clock,
        backoff=timedelta(seconds=hooks.backoff), max_backoff=timedelta(seconds=own.probe_max_backoff),
        retention=timedelta(days=own.retention_days), prune_every=own.prune_every, events=store)


def operator_keys(settings: Settings) -> ApiKeyRegistry:
    """The operators' API keys (``CBEC_OPERATOR_API_KEYS_FILE``/``CBEC_OPERATOR_API_KEYS``)."""
    own = settings.notifications
    return ApiKeyRegistry.load(own.operator_keys_file,
                               own.operator_keys.get_secret_value() if own.operator_keys else None)


def api_keys(settings: Settings) -> ApiKeyRegistry:
    """The callers' API keys: the declaration services' registry (``CBEC_API_KEYS_FILE``/``CBEC_API_KEYS``)."""
    keys = settings.api_keys
    return ApiKeyRegistry.load(keys.file, keys.inline.get_secret_value() if keys.inline else None)


def build(settings: Settings, tenants: TenantRegistry, store: EventStore, *, clock: Clock | None = None,
          post: webhooks.Post | None = None, auth: ApiKeyRegistry | None = None,
          operators: ApiKeyRegistry | None = None) -> Service:
    """The saga on ``store``; ``clock`` and ``post`` default to the system clock and HTTPS, ``auth`` and
    ``operators`` to the configured API keys.

    Status messages feed the notification service (consumer group ``cbec-webhooks``, as before);
    the webhook notifier of earlier versions only drains the deliveries it still had open."""
    clock = clock or SystemClock()
    own = settings.saga
    policy = policy_from(own.gate, own.receipt_timeout, own.max_resends, own.receipt_max_skew, own.export_collection)
    app = SagaApp(store, policy=policy, clock=clock)
    documents = DocumentGauges(store, policy, clock=clock).attach(app)  # held / past-deadline gauges, alerts
    hooks = notifier(settings, tenants, store, clock=clock, post=post)
    notes = notifier_for(settings, tenants, store, clock=clock, post=post)
    notes.announce_circuits()  # the operator view's circuits as they are, whatever a crash lost

    cipher = AesGcmCipher.from_spec(settings.pii.key_spec())
    poison = poison_sink(EventStoreDeclarations(store))

    def relay_route(event: RecordedEvent) -> list[tuple[str, str, bytes]]:
        if event.type == DEAD_LETTERED:
            return [dead_letter_message(NAME, event.data, cipher)]
        return route(event) + webhooks.route(event) + circuits.route(event)

    inputs = input_topics(tenants, shared_goods_left=not settings.production)  # production: own topics only
    # One replica runs the deadlines, the webhook retries and the pruning (their rows are claimed, so a
    # second one would only race for them); every replica pushes notifications, tenant by claimed tenant.
    singleton = lease_for(store, f"{NAME}-pollers")
    service = Service(
        NAME,
        app,
        consumes=[Consumes(Subscription(inputs, "cbec-saga"), batch_handler=app.handle_batch, dead_letter=poison),
                  Consumes(Subscription((topics.STATUS,), "cbec-webhooks"), batch_handler=notes.handle_batch,
                           dead_letter=poison)],
        outboxes=[Outbox(store, settings.database.schema_for(NAME), relay_route)],
        pollers=[leased(singleton, app.ticker), leased(singleton, hooks.pacer), notes.pacer,
                 leased(singleton, notes.pruner)],
        topics=[*topics.feedback_of_kind(topics.FEEDBACK_COMMANDS), topics.STATUS, topics.WEBHOOK_DEAD_LETTERS,
                topics.NOTIFICATION_CIRCUITS,
                topics.dead_letters(NAME),
                *(topics.tenant_status(t.customs_code) for t in tenants.all())],
        http_app=make_http_app(app, auth if auth is not None else api_keys(settings), notifier=notes,
                               operators=operators if operators is not None else operator_keys(settings)),
        on_close=[singleton.close],
        collectors=[*notification_gauges(notes), *documents.collectors()],
    )
    service.extras["webhooks"] = hooks
    service.extras["notifications"] = notes
    return service


def notification_gauges(notes: notifications.Notifier) -> list[Sampled]:
    """Per tenant, sampled when scraped: ``cbec_notification_circuit_open`` (1 while its callback is
    blocked) and ``cbec_notifications_queued`` (waiting for push); the OTel counters stay as they are."""
    states = cached(notes.store.states, every=10.0)  # one read for both gauges

    def read(field: str) -> list[tuple[tuple[str], float]]:
        return [((s.tenant,), float(getattr(s, field))) for s in states()]

    return [Sampled("cbec_notification_circuit_open", "1 while the tenant's callback is blocked", ["tenant"],
                    lambda: read("blocked"), every=0),
            Sampled("cbec_notifications_queued", "Notifications waiting for push", ["tenant"],
                    lambda: read("queued"), every=0)]


def check(settings: Settings, tenants: TenantRegistry) -> None:
    production.require(settings, production.tenants_problems(settings) + production.webhook_problems(settings, tenants))


def process(settings: Settings, tenants: TenantRegistry) -> ServiceProcess:
    check(settings, tenants)
    db = settings.database
    store = EventStore.open(db.url, schema=db.schema_for(NAME), name=NAME, pool_size=db.pool_size,
                            max_overflow=db.max_overflow, create=prepare_database(settings))
    return as_process(build(settings, tenants, store), settings)

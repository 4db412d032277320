"""`cbec run saga`, the embedded demo and the tests build the saga here: declaration events in → saga
commands and status out; status out → tenants' webhooks."""

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
from cbec.net.callbacks import CallbackGuard
from cbec.privacy.cipher import AesGcmCipher
from cbec.runtime import ServiceProcess
from cbec.service import Consumes, Outbox, Service, as_process
from cbec.settings import Settings
from cbec.store.event_store import EventStore
from cbec.store.events import RecordedEvent
from cbec.tenants import TenantRegistry

from saga_service import webhooks
from saga_service.api import make_http_app
from saga_service.application import NAME, SagaApp, input_topics, policy_from, route
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


def api_keys(settings: Settings) -> ApiKeyRegistry:
    """The callers' API keys: the declaration services' registry (``CBEC_API_KEYS_FILE``/``CBEC_API_KEYS``)."""
    keys = settings.api_keys
    return ApiKeyRegistry.load(keys.file, keys.inline.get_secret_value() if keys.inline else None)


def build(settings: Settings, tenants: TenantRegistry, store: EventStore, *, clock: Clock | None = None,
          post: webhooks.Post | None = None, auth: ApiKeyRegistry | None = None) -> Service:
    """The saga on ``store``; ``clock`` and ``post`` default to the system clock and HTTPS, ``auth`` to
    the configured API keys."""
    clock = clock or SystemClock()
    own = settings.saga
    policy = policy_from(own.gate, own.receipt_timeout, own.max_resends, own.receipt_max_skew)
    app = SagaApp(store, policy=policy, clock=clock)
    hooks = notifier(settings, tenants, store, clock=clock, post=post)

    cipher = AesGcmCipher.from_spec(settings.pii.key_spec())
    poison = poison_sink(EventStoreDeclarations(store))

    def relay_route(event: RecordedEvent) -> list[tuple[str, str, bytes]]:
        if event.type == DEAD_LETTERED:
            return [dead_letter_message(NAME, event.data, cipher)]
        return route(event) + webhooks.route(event)

    inputs = input_topics(tenants, shared_goods_left=not settings.production)  # production: own topics only
    service = Service(
        NAME,
        app,
        consumes=[Consumes(Subscription(inputs, "cbec-saga"), batch_handler=app.handle_batch, dead_letter=poison),
                  Consumes(Subscription((topics.STATUS,), "cbec-webhooks"), hooks.handle, dead_letter=poison)],
        outboxes=[Outbox(store, settings.database.schema_for(NAME), relay_route)],
        pollers=[app.ticker, hooks.pacer],
        topics=[*topics.feedback_of_kind(topics.FEEDBACK_COMMANDS), topics.STATUS, topics.WEBHOOK_DEAD_LETTERS,
                topics.dead_letters(NAME),
                *(topics.tenant_status(t.customs_code) for t in tenants.all())],
        http_app=make_http_app(app, auth if auth is not None else api_keys(settings)),
    )
    service.extras["webhooks"] = hooks
    return service


def check(settings: Settings, tenants: TenantRegistry) -> None:
    production.require(settings, production.tenants_problems(settings) + production.webhook_problems(settings, tenants))


def process(settings: Settings, tenants: TenantRegistry) -> ServiceProcess:
    check(settings, tenants)
    store = EventStore.open(settings.database.url, schema=settings.database.schema_for(NAME), name=NAME)
    return as_process(build(settings, tenants, store), settings)

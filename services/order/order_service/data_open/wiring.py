"""What the order service's bootstrap mounts for 179: the routes on its HTTP API, the uploader as a
leased poller (one uploader among replicas), the store beside the order service's tables."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from cbec import production
from cbec.clock import Clock, SystemClock
from cbec.privacy.cipher import AesGcmCipher
from cbec.readmodel import ReadModel
from cbec.runtime import Paced, leased
from cbec.service import Service
from cbec.settings import Settings
from cbec.store.event_store import EventStore
from cbec.store.leases import lease_for
from cbec.tenants import TenantRegistry

from order_service.data_open.keys import PlatformKeys
from order_service.data_open.payload import TextSigner
from order_service.data_open.routes import make_router
from order_service.data_open.store import DataOpenStore
from order_service.data_open.uploader import Uploader


@dataclass(frozen=True)
class DataOpen:
    """The 179 parts of a built order service (``Service.extras["data_open"]``)."""

    store: DataOpenStore
    uploader: Uploader


def store_url(readmodel: ReadModel) -> str:
    """The 179 tables' database, found from the read model the caller passed: the same Postgres (and
    schema), or beside a SQLite ``<db>-readmodel.db`` a file ``<db>-data-open.db`` of their own."""
    url = readmodel.url or readmodel.engine.url.render_as_string(hide_password=False)
    if url.startswith("sqlite:///") and url.endswith("-readmodel.db"):
        return url[: -len("-readmodel.db")] + "-data-open.db"
    return url


TEST_ENDPOINT = "swapptest.singlewindow.cn"


def problems(settings: Settings, tenants: TenantRegistry, keys: PlatformKeys) -> list[str]:
    """What production refuses: a platform with 179 on and no key, or uploads to customs' test system."""
    on = [t.customs_code for t in tenants.all() if t.data_open]
    found = [f"tenant {code}: dataOpen is on but CBEC_DATA_OPEN_KEYS_FILE holds no key for it"
             for code in on if not keys.has(code)]
    if on and TEST_ENDPOINT in settings.data_open.upload_url:
        found.append("CBEC_DATA_OPEN_UPLOAD_URL is customs' test endpoint (set the production one)")
    return found


def mount(parts: Service, settings: Settings, tenants: TenantRegistry, store: EventStore,
          readmodel: ReadModel | None, *, signer: TextSigner | None = None, client: httpx.Client | None = None,
          clock: Clock | None = None) -> Service:
    """Add 179 to ``parts`` when it has an HTTP API (customs reaches the platform over HTTP), its
    tables beside the read model's (:func:`store_url`)."""
    if parts.http_app is None or readmodel is None:
        return parts
    clock = clock or SystemClock()
    data = DataOpenStore.open(store_url(readmodel), schema=readmodel.schema or settings.database.schema_for(parts.name),
                              cipher=AesGcmCipher.from_spec(settings.pii.key_spec()),
                              pool_size=settings.database.pool_size, max_overflow=settings.database.max_overflow,
                              create=store.creates_tables)
    own_client = client is None
    client = client or httpx.Client(follow_redirects=False)
    if signer is None:
        signer = PlatformKeys.from_settings(settings.data_open)
        production.require(settings, problems(settings, tenants, signer))
    uploader = Uploader(data, signer, tenants, client, settings.data_open, clock)
    parts.http_app.include_router(make_router(data, tenants, clock, uploader.wakeup))
    lease = lease_for(store, "data-open-uploader")
    parts.pollers.append(leased(lease, Paced(uploader.round, uploader.idle, uploader.wakeup)))
    parts.on_close.extend([lease.close, data.close, *([client.close] if own_client else [])])
    parts.extras["data_open"] = DataOpen(data, uploader)
    return parts

"""Every HTTP API cbec serves, as its bootstrap builds it (for the hostile-input suite): the four
declaration services and the saga's clearance view on SQLite with one API key per demo tenant, and
the signer over a software SM2 key per demo tenant with one client token per tenant and the
operator's token."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import inventory_service.bootstrap
import logistics_service.bootstrap
import order_service.bootstrap
import payment_service.bootstrap
import saga_service.bootstrap
import signer_service.bootstrap
from cbec.auth.keys import issue_key
from cbec.readmodel import ReadModel
from cbec.settings import Settings
from cbec.store.event_store import EventStore
from cbec_testkit.embedded import embedded_settings, software_keys
from cbec_testkit.samples import DECLARANT, LOGISTICS_COMPANY, PAYMENT_COMPANY, PLATFORM, SITE_OPERATOR
from cbec_testkit.tenants import demo_registry
from fastapi import FastAPI
from signer_service.clients import issue_client

BOOTSTRAPS = {
    "order": (order_service.bootstrap, PLATFORM),
    "payment": (payment_service.bootstrap, PAYMENT_COMPANY),
    "logistics": (logistics_service.bootstrap, LOGISTICS_COMPANY),
    "inventory": (inventory_service.bootstrap, DECLARANT),
}


@dataclass
class Api:
    name: str
    app: FastAPI
    tenant: str  # the caller: the enterprise that declares this service's main type
    key: str
    own_field: str = "sender"  # the body field naming the caller, set to it in schema-valid requests

TENANTS = (PLATFORM, PAYMENT_COMPANY, LOGISTICS_COMPANY, DECLARANT, SITE_OPERATOR)


def build(name: str, directory: Path) -> Api:
    """Service ``name`` on a SQLite event store and read model under ``directory``."""
    if name == "signer":
        return build_signer()
    issued = {t: issue_key(t) for t in TENANTS}
    records = [{"keyId": r.keyId, "tenant": r.tenant, "salt": r.salt, "hash": r.hash} for _, r in issued.values()]
    url = f"sqlite:///{directory / name}.db"
    settings = embedded_settings(Settings.from_environ({"CBEC_API_KEYS": json.dumps(records),
                                                        "CBEC_DATABASE_URL": url}))
    store = EventStore.open(url, schema=f"cbec_{name}", name=name)
    if name == "saga":
        saga = saga_service.bootstrap.build(settings, demo_registry(), store)
        assert saga.http_app is not None
        return Api(name, saga.http_app, PLATFORM, issued[PLATFORM][0])
    bootstrap, tenant = BOOTSTRAPS[name]
    readmodel = ReadModel.open(f"sqlite:///{directory / name}-readmodel.db", name)
    service = bootstrap.build(settings, demo_registry(), store, readmodel=readmodel)
    assert service.http_app is not None
    return Api(name, service.http_app, tenant, issued[tenant][0])


def build_signer() -> Api:
    """The signer's HTTP API over a software key per demo tenant; one client token per tenant."""
    tokens = {t: issue_client([t], label=t) for t in TENANTS}
    settings = embedded_settings(Settings.from_environ({
        "CBEC_SIGNER_HTTP_PORT": "8080",
        "CBEC_SIGNER_CLIENTS": json.dumps([client.to_json() for _, client in tokens.values()]),
        "CBEC_SIGNER_TOKEN": "operator-token-for-the-hostile-suite",
    }))
    app = signer_service.bootstrap.build_app(settings, software_keys(demo_registry()))
    api = signer_service.bootstrap.http_app(settings, app)
    assert api is not None
    return Api("signer", api, PLATFORM, tokens[PLATFORM][0], own_field="tenant")

"""The four declaration services' HTTP APIs as their bootstraps build them, on SQLite, with one API
key per demo tenant (for the hostile-input suite)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import inventory_service.bootstrap
import logistics_service.bootstrap
import order_service.bootstrap
import payment_service.bootstrap
from cbec.auth.keys import issue_key
from cbec.readmodel import ReadModel
from cbec.settings import Settings
from cbec.store.event_store import EventStore
from cbec_testkit.samples import DECLARANT, LOGISTICS_COMPANY, PAYMENT_COMPANY, PLATFORM, SITE_OPERATOR
from cbec_testkit.tenants import demo_registry
from fastapi import FastAPI

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


def build(name: str, directory: Path) -> Api:
    """Service ``name`` on a SQLite event store and read model under ``directory``."""
    bootstrap, tenant = BOOTSTRAPS[name]
    issued = {t: issue_key(t) for t in (PLATFORM, PAYMENT_COMPANY, LOGISTICS_COMPANY, DECLARANT, SITE_OPERATOR)}
    records = [{"keyId": r.keyId, "tenant": r.tenant, "salt": r.salt, "hash": r.hash} for _, r in issued.values()]
    url = f"sqlite:///{directory / name}.db"
    settings = Settings.from_environ({"CBEC_API_KEYS": json.dumps(records), "CBEC_DATABASE_URL": url})
    store = EventStore.open(url, schema=f"cbec_{name}", name=name)
    readmodel = ReadModel.open(f"sqlite:///{directory / name}-readmodel.db", name)
    service = bootstrap.build(settings, demo_registry(), store, readmodel=readmodel)
    assert service.http_app is not None
    return Api(name, service.http_app, tenant, issued[tenant][0])

"""The console's view of the platform: the declaration services' HTTP APIs, called like any client.

Each enterprise is a caller with its own API key (``CBEC_CONSOLE_API_KEYS``: customs code -> key), so
the services' own tenancy rules decide what the console may declare and read for it: the console never
reaches a store, a topic or a validator the public API would not.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import httpx
from cbec.declaration.doctypes import BY_CODE
from lxml import etree

from console_service.operator_stats import StatsSource


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.status < 400


class NoKey(LookupError):
    """The console holds no API key for this enterprise."""


class Archive(Protocol):
    """Where the signed messages sent to customs can be read back (by DXP file name)."""

    def signed(self, file_name: str) -> bytes | None: ...


class Platform(Protocol):
    environment: str  # sandbox | production

    async def declare(self, tenant: str, command: dict[str, Any]) -> Reply: ...
    async def listing(self, tenant: str, doc_type: str, params: dict[str, str]) -> Reply: ...
    async def document(self, tenant: str, doc_type: str, key: list[str]) -> Reply: ...
    def signed_xml(self, file_name: str) -> bytes | None: ...


class HttpPlatform:
    """The platform behind one base URL per declaration service (order, payment, logistics, inventory)."""

    def __init__(self, environment: str, clients: dict[str, httpx.AsyncClient], keys: dict[str, str], *,
                 archive: Archive | None = None, lock: threading.Lock | None = None,
                 operator_stats: StatsSource | None = None) -> None:
        self.environment = environment
        self.operator_stats = operator_stats  # the operator view's tables of this platform, when it has them
        self.clients = clients
        self.keys = keys
        self.archive = archive
        self._lock = lock  # an in-process platform that must not be driven while it steps

    def _client(self, doc_type: str) -> httpx.AsyncClient:
        spec = BY_CODE.get(doc_type)
        client = self.clients.get(spec.service) if spec else None
        if client is None:
            raise LookupError(f"no service declares {doc_type}")
        return client

    def _headers(self, tenant: str) -> dict[str, str]:
        key = self.keys.get(tenant)
        if key is None:
            raise NoKey(tenant)
        return {"Authorization": f"Bearer {key}"}

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        if self._lock is None:
            yield
            return
        await asyncio.to_thread(self._lock.acquire)
        try:
            yield
        finally:
            self._lock.release()

    async def _call(self, doc_type: str, method: str, url: str, tenant: str, **kwargs: Any) -> Reply:
        client, headers = self._client(doc_type), self._headers(tenant)
        async with self._turn():
            response = await client.request(method, url, headers=headers, **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = {"errors": [{"code": "CBEC-0502", "path": "$", "rule": "http", "message": response.text[:200]}]}
        return Reply(response.status_code, body if isinstance(body, dict) else {"items": body})

    async def declare(self, tenant: str, command: dict[str, Any]) -> Reply:
        return await self._call(str(command.get("docType")), "POST", "/v1/documents", tenant, json=command)

    async def listing(self, tenant: str, doc_type: str, params: dict[str, str]) -> Reply:
        return await self._call(doc_type, "GET", "/v1/documents", tenant, params={**params, "docType": doc_type})

    async def document(self, tenant: str, doc_type: str, key: list[str]) -> Reply:
        path = "/".join(quote(part, safe="") for part in key)
        return await self._call(doc_type, "GET", f"/v1/documents/{doc_type}/{path}", tenant)

    def signed_xml(self, file_name: str) -> bytes | None:
        envelope = self.archive.signed(file_name) if self.archive is not None else None
        return unwrap(envelope) if envelope is not None else None

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()


def unwrap(envelope: bytes) -> bytes:
    """The signed CEB message inside a DxpMsg envelope (its base64 ``Data``); the envelope when it has none."""
    try:
        root = etree.fromstring(envelope, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return envelope
    data = next((e for e in root.iter() if isinstance(e.tag, str) and etree.QName(e).localname == "Data"), None)
    if data is None or not data.text:
        return envelope
    try:
        return base64.b64decode(data.text, validate=False)
    except ValueError:
        return envelope


def remote(environment: str, urls: dict[str, str], keys: dict[str, str],
           transport: Callable[[], httpx.AsyncBaseTransport] | None = None) -> HttpPlatform:
    """The platform at ``urls`` (service name -> base URL), e.g. the services of ``cbec up``."""
    clients = {name: httpx.AsyncClient(base_url=url, timeout=30.0, transport=transport() if transport else None)
               for name, url in urls.items()}
    return HttpPlatform(environment, clients, keys)

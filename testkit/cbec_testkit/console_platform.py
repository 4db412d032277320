"""A whole platform in this process for the web console (``console_service``): the sandbox of its
development run and the backend of the browser tests. The test kit's embedded stack (simulator included)
with a read model and the HTTP API per declaration service, an API key per tenant, and a thread that keeps
it moving: it steps while there is work and sleeps otherwise, until a call of the platform writes
something (every store commit and bus publish wakes it) or timed work is due (``EmbeddedStack.idle``),
so an idle sandbox costs no CPU."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import httpx
from cbec.auth.keys import ApiKeyRegistry, issue_key
from cbec.customs.filedrop import FileDropLink, Staged
from cbec.declaration.http import make_http_app
from cbec.readmodel import Projection, ReadModel, StoreSource
from cbec.settings import Settings
from cbec.tenants import TenantRegistry
from console_service.operator_stats import BusFeed
from console_service.platform import HttpPlatform

from cbec_testkit.customs.simulator import SimulatorConfig
from cbec_testkit.embedded import DECLARATION_SERVICES, EmbeddedStack, embedded_settings
from cbec_testkit.tenants import demo_registry

log = logging.getLogger(__name__)


class RecordingLink(FileDropLink):
    """The DXP file drop, keeping a copy of every message it sends (the console shows the signed XML)."""

    def __init__(self, outbox: Path, inbox: Path, idle_wait: float) -> None:
        super().__init__(outbox, inbox, idle_wait=idle_wait)
        self.copies: dict[str, bytes] = {}

    def stage(self, files: Sequence[Staged]) -> None:
        super().stage(files)
        for staged in files:
            self.copies[staged.name] = staged.data

    def signed(self, file_name: str) -> bytes | None:
        return self.copies.get(file_name)


class EmbeddedPlatform:
    """The embedded stack plus what a client needs of it: HTTP apps, keys, and a stepping thread
    (``steps`` counts its steps; ``retry`` is its pause after a failed step)."""

    def __init__(self, workdir: Path, environment: str = "sandbox", *, tenants: TenantRegistry | None = None,
                 simulator: SimulatorConfig | None = None, settings: Settings | None = None,
                 safety_net: float = 30.0, retry: float = 1.0) -> None:
        self.tenants = tenants or demo_registry()
        # the in-process simulator is the only writer of the inbox: the stack's steps read it
        self.link = RecordingLink(workdir / "dxp" / "outbox", workdir / "dxp" / "inbox", idle_wait=safety_net)
        self.stack = EmbeddedStack(workdir / "stores", workdir / "dxp", tenants=self.tenants,
                                   simulator_config=simulator or SimulatorConfig(),
                                   settings=embedded_settings(settings), transport=self.link,
                                   safety_net=safety_net)
        self.lock = threading.Lock()
        self.keys: dict[str, str] = {}
        records = []
        for tenant in self.tenants.all():
            key, record = issue_key(tenant.customs_code, "console")
            self.keys[tenant.customs_code] = key
            records.append(record)
        registry = ApiKeyRegistry(records)
        self.readmodels: list[ReadModel] = []
        clients: dict[str, httpx.AsyncClient] = {}
        stores = dict(zip(DECLARATION_SERVICES, self.stack.stores, strict=False))  # made in service order
        for name in DECLARATION_SERVICES:
            readmodel = ReadModel.open(f"sqlite:///{workdir / 'stores' / (name + '-readmodel.db')}", name)
            self.readmodels.append(readmodel)
            projection = Projection(StoreSource(stores[name]), readmodel)
            api = make_http_app(self.stack.apps[name], name, auth=registry, readmodel=readmodel,
                                projection=projection)
            clients[name] = httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url=f"http://{name}")
        self.platform = HttpPlatform(environment, clients, self.keys, archive=self.link, lock=self.lock,
                                     operator_stats=BusFeed(self.stack.bus))
        self.retry = retry
        self.steps = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"embedded-{environment}", daemon=True)

    def start(self) -> EmbeddedPlatform:
        self._thread.start()
        return self

    def step(self) -> int:
        with self.lock:
            self.steps += 1
            return int(self.stack.step())

    def _run(self) -> None:
        wakeup = self.stack.wakeup
        while not self._stop.is_set():
            wakeup.clear()  # before the step: a write during it leads to one more
            try:
                busy = self.step()
            except Exception:  # keep the sandbox moving; the failure is in the log
                log.exception("embedded platform step failed")
                self._stop.wait(self.retry)
                continue
            if not busy:
                with self.lock:
                    pause = self.stack.idle()
                wakeup.wait(pause)

    def close(self) -> None:
        self._stop.set()
        self.stack.wakeup.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        for readmodel in self.readmodels:
            readmodel.close()
        self.stack.close()


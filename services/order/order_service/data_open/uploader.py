"""The asynchronous half of 179: each recorded request becomes one signed upload to customs.

A round takes the due requests. For each: the platform's payment raw data for the order (waited
for until ``CBEC_DATA_OPEN_GIVE_UP_AFTER`` when it has not arrived yet), the signed
``payExInfoStr``, then POSTs with retries and exponential backoff (tenacity) on transport errors and
5xx answers. A round that still fails leaves the request pending for a later round (backoff doubling
from ``CBEC_DATA_OPEN_BACKOFF``), until it gives up. Every outcome is one audit entry. The round
also prunes what is older than the retention period, at most once an hour.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from cbec.clock import Clock
from cbec.settings import DataOpenSettings
from cbec.tenants import TenantRegistry
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from order_service.data_open.keys import NoKey
from order_service.data_open.payload import TextSigner, build_upload
from order_service.data_open.store import DataOpenStore, OpenRequest

log = logging.getLogger(__name__)

PRUNE_EVERY = timedelta(hours=1)
MAX_PAUSE = 300.0  # seconds between two rounds of a pending request at most


class Transient(Exception):  # noqa: N818 - reads as the kind of failure
    """Customs did not answer, or answered 5xx: worth another POST."""


class Refused(Exception):  # noqa: N818
    """Customs answered with a failure code (20000 …): the upload as built will not pass."""


class Uploader:
    """One poller (``round`` / ``idle`` / ``wakeup``) over a :class:`DataOpenStore`."""

    def __init__(self, store: DataOpenStore, signer: TextSigner, tenants: TenantRegistry, client: httpx.Client,
                 settings: DataOpenSettings, clock: Clock, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.store, self.signer, self.tenants, self.client = store, signer, tenants, client
        self.settings, self.clock, self.sleep = settings, clock, sleep
        self.wakeup = threading.Event()
        self._pruned: datetime | None = None

    def round(self) -> int:
        now = self.clock.now()
        done = 0
        for req in self.store.due(now):
            try:
                self.handle(req)
            except Exception as error:  # noqa: BLE001 - one bad row must not stop the others
                log.warning("179: request %s failed (%s); tried again later", req.session_id, type(error).__name__)
                self._later(req, self.clock.now(), "error", type(error).__name__)
            done += 1
        if self._pruned is None or now - self._pruned >= PRUNE_EVERY:
            self._pruned = now
            pruned = self.store.prune(now, timedelta(days=self.settings.retention_days))
            if pruned:
                log.info("179: pruned %d rows older than %d days", pruned, self.settings.retention_days)
        return done

    def idle(self) -> float:
        due = self.store.next_due()
        if due is None:
            return self.settings.poll_every * 10
        return max(0.0, min((due - self.clock.now()).total_seconds(), MAX_PAUSE))

    def handle(self, req: OpenRequest) -> None:
        now = self.clock.now()
        tenant = self.tenants.get(req.platform) if req.platform in self.tenants else None
        if tenant is None or not tenant.data_open:
            self.store.settle(req, "failed", at=now, event="refused", detail="179 is off for this platform")
            return
        data = self.store.payment_for(req.platform, req.order_no)
        if data is None:
            self._later(req, now, "no-data", "no payment raw data for the order yet")
            return
        try:
            upload = build_upload(data, req.order_no, req.session_id, int(now.timestamp() * 1000),
                                  platform=req.platform, signer=self.signer, form=self.settings.signing_input)
        except NoKey as missing:
            self.store.settle(req, "failed", at=now, event="sign-failed", detail=f"{missing.code}: {missing}")
            return
        try:
            message = self._post(upload.pay_ex_info_str)
        except Transient as failed:
            self._later(req, self.clock.now(), "upload-retry", str(failed))
            return
        except Refused as refused:
            self.store.settle(req, "failed", at=self.clock.now(), event="upload-refused", detail=str(refused))
            return
        self.store.settle(req, "uploaded", at=self.clock.now(), event="uploaded",
                          detail=f"certNo {upload.cert_no}: {message}")

    def _later(self, req: OpenRequest, now: datetime, event: str, detail: str) -> None:
        if now - req.received_at >= timedelta(seconds=self.settings.give_up_after):
            self.store.settle(req, "failed", at=now, event="gave-up", detail=detail)
            return
        pause = min(self.settings.backoff * 2 ** req.attempts, MAX_PAUSE)
        self.store.settle(req, "pending", at=now, event=event, detail=detail, next_at=now + timedelta(seconds=pause))

    def _post(self, pay_ex_info_str: str) -> str:
        retrying = Retrying(stop=stop_after_attempt(max(1, self.settings.attempts)),
                            wait=wait_exponential(multiplier=self.settings.backoff, max=30),
                            retry=retry_if_exception_type(Transient), sleep=self.sleep, reraise=True)
        for attempt in retrying:
            with attempt:
                return self._post_once(pay_ex_info_str)
        raise AssertionError("unreachable: tenacity reraises the last failure")  # pragma: no cover

    def _post_once(self, pay_ex_info_str: str) -> str:
        try:
            response = self.client.post(self.settings.upload_url, data={"payExInfoStr": pay_ex_info_str},
                                        timeout=self.settings.timeout)
        except httpx.HTTPError as error:
            raise Transient(f"upload: {type(error).__name__}") from None
        if response.status_code >= 500:
            raise Transient(f"upload: HTTP {response.status_code}")
        try:
            body = response.json()
            code, message = str(body.get("code", "")), str(body.get("message", ""))[:200]
        except (ValueError, AttributeError):
            raise Refused(f"upload: HTTP {response.status_code}, not a JSON answer") from None
        if code != "10000":
            raise Refused(f"upload: code {code or '(none)'} {message}".strip())
        return f"code 10000 {message}".strip()

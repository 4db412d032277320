"""The probes on the process's one port: /readyz follows joins, the store and stopping; /livez fails only
when a loop stops making progress; a service's own API gets the routes beside its own; SIGTERM drains."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from cbec.runtime import EXIT_OK, Paced, ServiceProcess
from fastapi import FastAPI


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def eventually(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


class Member:
    """A group consumer whose join the test decides; a batch it is handling ends only when released."""

    name = "member"

    def __init__(self) -> None:
        self.has_joined = threading.Event()
        self.in_batch = threading.Event()
        self.release = threading.Event()
        self.working = threading.Event()
        self.committed: list[str] = []

    def run_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if self.in_batch.is_set():  # the batch polled before the stop: finished and committed
                self.working.set()
                self.release.wait(10)
                self.committed.append("batch")
                self.in_batch.clear()
            stop.wait(0.01)

    def joined(self) -> bool:
        return self.has_joined.is_set()

    def close(self) -> None:
        pass


class Store:
    def __init__(self) -> None:
        self.up = True

    def ping(self) -> None:
        if not self.up:
            raise ConnectionError("store not answering")


class Served:
    def __init__(self, process: ServiceProcess) -> None:
        self.process = process
        self.codes: list[int] = []
        self.thread = threading.Thread(target=lambda: self.codes.append(process.serve()), daemon=True)
        self.base = f"http://127.0.0.1:{process.http_port}"

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.base + path, timeout=5)

    def status(self, path: str) -> int:
        try:
            return self.get(path).status_code
        except httpx.TransportError:
            return 0


@pytest.fixture
def serve() -> Iterator[Callable[[ServiceProcess], Served]]:
    started: list[Served] = []

    def start(process: ServiceProcess) -> Served:
        served = Served(process)
        started.append(served)
        served.thread.start()
        eventually(lambda: served.status("/livez") == 200)
        return served

    yield start
    for served in started:
        served.process.stop.set()
        served.thread.join(timeout=20)
        assert served.codes == [EXIT_OK]


def test_readiness_follows_the_joins_and_the_store_until_the_process_stops(
        serve: Callable[[ServiceProcess], Served]) -> None:
    member, store = Member(), Store()
    served = serve(ServiceProcess("order", consumers=[member], health_check=store.ping, http_port=free_port(),
                                  tracing=False))
    assert served.get("/readyz").status_code == 503
    assert served.get("/readyz").json() == {"status": "failing", "reason": "starting"}
    member.has_joined.set()
    eventually(lambda: served.status("/readyz") == 200)
    store.up = False  # the database went away: not ready (asked again at most once a second)
    eventually(lambda: served.status("/readyz") == 503)
    assert served.get("/livez").status_code == 200  # not ready is not dead: no restart for that
    store.up = True
    eventually(lambda: served.status("/readyz") == 200)


def test_a_stuck_round_fails_liveness_while_a_sleeping_paced_poller_does_not(
        serve: Callable[[ServiceProcess], Served]) -> None:
    stuck, unstick = threading.Event(), threading.Event()

    def round_that_may_hang() -> int:
        if stuck.is_set():
            unstick.wait(20)
            stuck.clear()
        return 0

    sleeper = Paced(lambda: 0, lambda: 3600.0)  # idle for an hour: alive all along
    served = serve(ServiceProcess("saga", pollers=[sleeper, round_that_may_hang], http_port=free_port(),
                                  stall_after=0.3, poll_interval=0.01, tracing=False))
    time.sleep(0.5)
    assert served.get("/livez").status_code == 200
    stuck.set()
    eventually(lambda: served.status("/livez") == 503)
    assert served.get("/livez").json()["reason"] == "no progress for 0 s: poller-1"
    assert 'cbec_loop_busy_seconds{loop="poller-1"}' in served.get("/metrics").text
    unstick.set()
    eventually(lambda: served.status("/livez") == 200)


def test_a_service_api_gets_the_probes_beside_its_own_routes(serve: Callable[[ServiceProcess], Served]) -> None:
    api = FastAPI()

    @api.get("/hello")
    def hello() -> dict[str, str]:
        return {"hello": "world"}

    served = serve(ServiceProcess("order", http_app=api, http_port=free_port(), tracing=False))
    assert served.get("/hello").json() == {"hello": "world"}
    eventually(lambda: served.status("/readyz") == 200)
    metrics = served.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "process_cpu_seconds_total" in metrics.text and "cbec_loop_busy_seconds" in metrics.text
    assert "/livez" not in served.get("/openapi.json").text  # the API's document is unchanged


def test_sigterm_drains_the_current_batch_while_the_probes_answer(serve: Callable[[ServiceProcess], Served]) -> None:
    member = Member()
    member.has_joined.set()
    served = serve(ServiceProcess("order", consumers=[member], http_port=free_port(), tracing=False))
    eventually(lambda: served.status("/readyz") == 200)
    member.in_batch.set()
    assert member.working.wait(5)
    served.process.stop.set()  # what SIGTERM does
    eventually(lambda: served.status("/readyz") == 503)
    assert served.get("/readyz").json()["reason"] == "stopping"
    assert served.get("/livez").status_code == 200  # draining is alive
    member.release.set()
    served.thread.join(timeout=20)
    assert member.committed == ["batch"] and served.codes == [EXIT_OK]
    assert served.status("/livez") == 0  # the port is closed once the loops are done

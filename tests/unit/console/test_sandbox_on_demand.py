"""The console's embedded sandbox steps on demand: idle, its thread sleeps (no step at all, so no CPU);
a declaration through the platform wakes it and it steps until the receipts are in; while customs holds
a receipt back, it sleeps until that receipt is due, not in a fixed tick (issue #12's idle budget)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cbec_testkit.console_platform import EmbeddedPlatform
from cbec_testkit.customs.simulator import SimulatorConfig
from cbec_testkit.samples import declare_clearance

CLEARANCE = "3105960001:DEMO00000001"


def settle(platform: EmbeddedPlatform, quiet: float = 0.5, within: float = 20.0) -> int:
    """Wait until the stepping thread has taken no step for ``quiet`` seconds; its step count then."""
    deadline = time.monotonic() + within
    last, since = platform.steps, time.monotonic()
    while time.monotonic() - since < quiet:
        assert time.monotonic() < deadline, f"the sandbox kept stepping ({platform.steps} steps)"
        time.sleep(0.05)
        if platform.steps != last:
            last, since = platform.steps, time.monotonic()
    return last


def order_status(platform: EmbeddedPlatform) -> int | None:
    with platform.lock:
        view = platform.stack.saga.view(CLEARANCE)
    code = view["documents"].get("order", {}).get("statusCode") if view else None
    return int(code) if code is not None else None


def wait_for(condition: Callable[[], bool], within: float) -> float:
    """Seconds until ``condition`` held (fails after ``within``)."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < within, "never happened"
        time.sleep(0.02)
    return time.monotonic() - started


def declare_order(platform: EmbeddedPlatform) -> None:
    order = declare_clearance(1)[0]
    assert order.doc_type == "CEB311"
    reply = asyncio.run(platform.platform.declare(order.sender, json.loads(order.to_json())))
    assert reply.status == 202, reply.body


@pytest.fixture
def sandbox(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[EmbeddedPlatform]:
    config = getattr(request, "param", SimulatorConfig())
    platform = EmbeddedPlatform(tmp_path, simulator=config).start()
    try:
        yield platform
    finally:
        platform.close()


def test_an_idle_sandbox_takes_no_step(sandbox: EmbeddedPlatform) -> None:
    settled = settle(sandbox)
    assert sandbox.stack.idle() == sandbox.stack.safety_net  # nothing timed: only the safety net is left
    time.sleep(2.0)
    assert sandbox.steps == settled  # a 0.1 s tick would have stepped about 20 times


def test_a_declaration_wakes_the_sandbox_and_reaches_its_receipts_promptly(sandbox: EmbeddedPlatform) -> None:
    settled = settle(sandbox)
    declare_order(sandbox)
    took = wait_for(lambda: order_status(sandbox) == 120, within=15.0)
    assert sandbox.steps > settled
    quiet = settle(sandbox)
    time.sleep(1.0)
    assert sandbox.steps == quiet, "the sandbox went on stepping after its work was done"
    print(f"declared → 120 in {took:.2f} s")


@pytest.mark.parametrize("sandbox", [SimulatorConfig(accept_delay=3.0)], indirect=True)
def test_a_receipt_customs_holds_back_is_waited_for_until_it_is_due(sandbox: EmbeddedPlatform) -> None:
    settle(sandbox)
    declare_order(sandbox)
    wait_for(lambda: order_status(sandbox) == 2, within=15.0)  # 2 now, 120 3 s after it
    holding = settle(sandbox, quiet=0.3)
    if order_status(sandbox) != 2:
        pytest.fail("the 120 came before the wait began: the test machine is too slow for this window")
    with sandbox.lock:
        pause = sandbox.stack.idle()
    assert 0.0 < pause <= 3.0  # the planned 120, not the safety net
    time.sleep(max(0.0, pause - 0.3))
    assert sandbox.steps == holding  # asleep until the receipt is due (a 0.1 s tick: ~25 steps by now)
    took = wait_for(lambda: order_status(sandbox) == 120, within=5.0)
    assert took < 2.0, f"the 120 reached the order {took:.2f} s after it was due"

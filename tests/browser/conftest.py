"""The console in a real browser: Debian's chromium (installed by scripts/chromium.sh) driven by Playwright,
against a console served by uvicorn in this process with two embedded platforms behind it: the sandbox (the
customs simulator) and a stand-in for production. Screenshots go to .stack/artifacts/browser/.

Under CI (or CBEC_REQUIRE_INTEGRATION=1) a chromium that cannot be installed or started fails the tests;
elsewhere it skips them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from cbec_testkit.console_platform import EmbeddedPlatform
from cbec_testkit.customs.simulator import SimulatorConfig
from cbec_testkit.samples import DECLARANT, LOGISTICS_COMPANY, PAYMENT_COMPANY, PLATFORM, SITE_OPERATOR
from cbec_testkit.tenants import demo_registry
from console_service.accounts import ConsoleRole, Environment, MemoryAccounts, Passwords, User
from console_service.app import ConsoleConfig, create_app
from console_service.operator_stats import BusFeed

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".stack" / "artifacts" / "browser"
PASSWORD = "correct-horse-battery"
REJECTED_ORDER = "REJ00000001"

USERS = {
    "platform-op": {PLATFORM: ConsoleRole.OPERATOR},
    "payment-op": {PAYMENT_COMPANY: ConsoleRole.OPERATOR},
    "logistics-op": {LOGISTICS_COMPANY: ConsoleRole.OPERATOR},
    "declarant-viewer": {DECLARANT: ConsoleRole.VIEWER},
    "warehouse-op": {DECLARANT: ConsoleRole.OPERATOR},
    "site-admin": {SITE_OPERATOR: ConsoleRole.ADMIN},
}


def required() -> bool:
    return os.environ.get("CI", "").lower() in {"true", "1"} or os.environ.get("CBEC_REQUIRE_INTEGRATION") == "1"


@pytest.fixture(scope="session")
def chromium() -> str:
    """The chromium binary: CBEC_CHROMIUM (scripts/test.sh exports it), else scripts/chromium.sh's answer."""
    given = os.environ.get("CBEC_CHROMIUM")
    if given and os.access(given, os.X_OK):
        return given
    done = subprocess.run(["bash", str(ROOT / "scripts" / "chromium.sh")], capture_output=True, text=True,
                          check=False, timeout=900)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        message = f"chromium is not available (scripts/chromium.sh exit {done.returncode}): {done.stderr[-500:]}"
        if required():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return lines[-1]


@dataclass
class Console:
    url: str
    sandbox: EmbeddedPlatform
    production: EmbeddedPlatform
    accounts: MemoryAccounts


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="package")
def console() -> Iterator[Console]:
    workdir = Path(tempfile.mkdtemp(prefix="cbec-console-browser-"))
    sandbox = EmbeddedPlatform(workdir / "sandbox", "sandbox",
                               simulator=SimulatorConfig(faults={("CEB311", REJECTED_ORDER): "reject"})).start()
    production = EmbeddedPlatform(workdir / "production", "production").start()
    passwords = Passwords()
    accounts = MemoryAccounts()
    for name, memberships in USERS.items():
        accounts.add_user(User(name, passwords.hash(PASSWORD), dict(memberships)))
    accounts.add_user(User("ops", passwords.hash(PASSWORD), {}, platform_operator=True))
    config = ConsoleConfig("browser-test-session-secret-0123456789", demo_registry(), accounts,
                           {Environment.SANDBOX: sandbox.platform, Environment.PRODUCTION: production.platform},
                           passwords=passwords, https_only=False,
                           operator_stats={Environment.SANDBOX: BusFeed(sandbox.stack.bus)})
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the console did not start"
        time.sleep(0.05)
    yield Console(f"http://127.0.0.1:{port}", sandbox, production, accounts)
    server.should_exit = True
    thread.join(timeout=10)
    sandbox.close()
    production.close()


# Package scope: Playwright's sync API keeps an event loop running in this thread while it is open, so
# it must be closed before any other test (asyncio.run() refuses to start inside a running loop).
@pytest.fixture(scope="package")
def browser(chromium: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=chromium, headless=True,
                                                  args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        except Exception as error:  # Playwright's own error type names what failed
            if required():
                pytest.fail(f"chromium at {chromium} does not start: {error}", pytrace=False)
            pytest.skip(f"chromium at {chromium} does not start: {error}")
        yield launched
        launched.close()


def shot(page: object, name: str) -> Path:
    """A full-page screenshot kept as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path

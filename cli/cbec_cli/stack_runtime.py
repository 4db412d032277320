"""The local stack's moving parts: server scripts, service processes, pid records and `stack.env`.

A stack lives in one directory (default `.stack/`):

    stack.env              KEY=VALUE lines every service got (KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL, ...)
    servers.json           which servers this stack started itself (so `down` leaves external ones alone)
    services/<name>.json   pid and command line of a running service
    services/<name>.log    its stdout and stderr
    services/<name>.ready  created by the service when it is ready (path given in CBEC_READY_FILE);
                           printing a line `cbec <name>: ready` counts too
    dxp/outbox, dxp/inbox  the DXP file-drop directories shared with the customs simulator
    signer/                the software signing identity of every tenant (see `cbec_cli.stack_identities`)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SERVICES: tuple[str, ...] = (
    "order",
    "payment",
    "logistics",
    "inventory",
    "signer",
    "receipts",
    "saga",
    "simulator",
    "console",  # the web console (`cbec up` gives it a port and prints its URL)
)
SERVERS: tuple[str, ...] = ("kafka", "postgres", "softhsm")  # start order; stopped in reverse


class StackError(RuntimeError):
    """A server or service of the local stack could not be started or stopped."""


@dataclass(frozen=True)
class ServiceProcess:
    """A service started by `cbec up`."""

    name: str
    pid: int
    command: tuple[str, ...]
    log: Path
    ready_file: Path


@dataclass(frozen=True)
class ServiceOutcome:
    """How a service's start went: `ready` (signalled), `running` (alive, no signal) or `failed`."""

    name: str
    state: str
    detail: str


def scripts_dir() -> Path:
    """The repo's `scripts/` (the CLI is installed editable from the repo for local stacks)."""
    return Path(__file__).resolve().parents[2] / "scripts"


def parse_env_lines(text: str) -> dict[str, str]:
    """KEY=VALUE lines (as printed by the scripts and stored in stack.env); other lines are ignored."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and key.replace("_", "").isalnum() and key[0].isalpha() and key.isupper():
            values[key] = value
    return values


def run_server_script(server: str, action: str, stack_dir: Path) -> dict[str, str]:
    """Runs `scripts/<server>.sh <action>` for this stack dir; returns the KEY=VALUE lines it printed."""
    script = scripts_dir() / f"{server}.sh"
    if not script.exists():
        raise StackError(f"{script} not found: `cbec up` needs the repository checkout")
    env = {**os.environ, "CBEC_STACK_DIR": str(stack_dir)}
    done = subprocess.run(["bash", str(script), action], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise StackError(f"{server} {action} failed (exit {done.returncode}):\n{tail}")
    return parse_env_lines(done.stdout)


def service_environment(
    base: Mapping[str, str], servers: Mapping[str, str], stack_dir: Path, name: str
) -> dict[str, str]:
    """The environment of one service: the caller's, the servers' settings and the stack's paths."""
    env = dict(base)
    env.update(servers)
    if "KAFKA_BOOTSTRAP_SERVERS" in servers:
        env["CBEC_KAFKA_BOOTSTRAP_SERVERS"] = servers["KAFKA_BOOTSTRAP_SERVERS"]
    if "DATABASE_URL" in servers:
        env["CBEC_DATABASE_URL"] = servers["DATABASE_URL"]
    env["CBEC_DXP_OUTBOX"] = str(stack_dir / "dxp" / "outbox")
    env["CBEC_DXP_INBOX"] = str(stack_dir / "dxp" / "inbox")
    env["CBEC_READY_FILE"] = str(stack_dir / "services" / f"{name}.ready")
    env["CBEC_SERVICE_NAME"] = name
    env["CBEC_ENV"] = "development"  # a local stack: demo tenants and development keys are expected here
    return env


def cbec_command(name: str) -> tuple[str, ...]:
    """The command that runs one service: `cbec run <name>` with this interpreter."""
    return (sys.executable, "-m", "cbec_cli.main", "run", name)


def start_service(
    name: str, command: Sequence[str], env: Mapping[str, str], stack_dir: Path
) -> ServiceProcess:
    """Starts a service in its own session, logging to `services/<name>.log`, and records its pid."""
    services = stack_dir / "services"
    services.mkdir(parents=True, exist_ok=True)
    log = services / f"{name}.log"
    ready = services / f"{name}.ready"
    ready.unlink(missing_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            list(command),
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    record = {
        "name": name,
        "pid": proc.pid,
        "command": list(command),
        "log": str(log),
        "ready_file": str(ready),
    }
    (services / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    return ServiceProcess(name, proc.pid, tuple(command), log, ready)


def _exit_status(pid: int) -> int | None:
    """Reaps the child if it has exited; returns its exit code, or None while it runs."""
    try:
        waited, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child (or already reaped): fall back to a liveness probe
        return None if _alive(pid) else -1
    if waited == 0:
        return None
    return os.waitstatus_to_exitcode(status)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():  # a zombie is not alive
        try:
            return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False
    return True


def log_tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _logged_ready(service: ServiceProcess) -> bool:
    """The other readiness signal: a line `cbec <name>: ready` in the service's output."""
    try:
        text = service.log.read_text(errors="replace")
    except OSError:
        return False
    return f"cbec {service.name}: ready" in text


def wait_until_up(services: Sequence[ServiceProcess], wait: float) -> list[ServiceOutcome]:
    """Watches all services together for up to `wait` seconds.

    A service is `ready` once it creates its ready file (or prints `cbec <name>: ready`), `failed` if it
    exits, and `running` if it is still alive without a signal when the wait ends. Returns one outcome
    per service, in order.
    """
    outcomes: dict[str, ServiceOutcome] = {}
    deadline = time.monotonic() + wait
    while True:
        for service in services:
            if service.name in outcomes:
                continue
            code = _exit_status(service.pid)
            if code is not None:
                detail = f"exited with code {code} at start; log {service.log}:\n{log_tail(service.log)}"
                outcomes[service.name] = ServiceOutcome(service.name, "failed", detail)
            elif service.ready_file.exists() or _logged_ready(service):
                outcomes[service.name] = ServiceOutcome(service.name, "ready", f"pid {service.pid}")
        if len(outcomes) == len(services) or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    for service in services:
        outcomes.setdefault(
            service.name, ServiceOutcome(service.name, "running", f"pid {service.pid} (no readiness signal)")
        )
    return [outcomes[service.name] for service in services]


def recorded_services(stack_dir: Path) -> list[ServiceProcess]:
    services = stack_dir / "services"
    found: list[ServiceProcess] = []
    for path in sorted(services.glob("*.json")) if services.exists() else []:
        record = json.loads(path.read_text())
        found.append(
            ServiceProcess(
                record["name"],
                int(record["pid"]),
                tuple(record["command"]),
                Path(record["log"]),
                Path(record["ready_file"]),
            )
        )
    return found


def _runs_command(pid: int, command: Sequence[str]) -> bool:
    """True when `pid` still runs `command` (guards against a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return [part.decode(errors="replace") for part in cmdline if part] == list(command)


def is_running(service: ServiceProcess) -> bool:
    """True when the recorded process still runs the recorded command."""
    return _alive(service.pid) and _runs_command(service.pid, service.command)


def stop_service(service: ServiceProcess, timeout: float = 20.0) -> bool:
    """SIGTERM, wait, SIGKILL as a last resort; removes the pid record. True if a process was stopped."""
    stopped = False
    if is_running(service):
        os.kill(service.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _exit_status(service.pid) is None:
            time.sleep(0.1)
        if _exit_status(service.pid) is None:
            os.kill(service.pid, signal.SIGKILL)
            while _exit_status(service.pid) is None and time.monotonic() < deadline + 5:
                time.sleep(0.05)
        stopped = True
    service.log.with_suffix(".json").unlink(missing_ok=True)
    service.ready_file.unlink(missing_ok=True)
    return stopped


def read_started_servers(stack_dir: Path) -> list[str]:
    path = stack_dir / "servers.json"
    if not path.exists():
        return []
    started = json.loads(path.read_text())
    return [name for name in started if name in SERVERS]


def write_started_servers(stack_dir: Path, servers: Sequence[str]) -> None:
    (stack_dir / "servers.json").write_text(json.dumps(list(servers)) + "\n")


def write_stack_env(stack_dir: Path, values: Mapping[str, str]) -> Path:
    path = stack_dir / "stack.env"
    path.write_text("".join(f"{key}={value}\n" for key, value in sorted(values.items())))
    return path

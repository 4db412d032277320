"""Kafka and Postgres for a load run: started with the repo's scripts in a stack folder of their own
(so they can be restarted on the same port and data), or given through the environment."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SCRIPTS = ROOT / "scripts"


class ServerError(RuntimeError):
    """A server script failed (its stderr's tail is the message)."""


def parse_env_lines(text: str) -> dict[str, str]:
    """The KEY=VALUE lines the scripts print on stdout."""
    found = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key.isupper() and key.replace("_", "").isalnum():
            found[key] = value
    return found


@dataclass
class Servers:
    """The two servers of a run; ``started`` names the ones this run started (and may restart)."""

    stack_dir: Path
    durable: bool = False
    values: dict[str, str] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)

    @property
    def kafka(self) -> str:
        return self.values["KAFKA_BOOTSTRAP_SERVERS"]

    @property
    def database_url(self) -> str:
        return self.values["DATABASE_URL"]

    def script(self, server: str, action: str, timeout: float = 300) -> dict[str, str]:
        env = {**os.environ, "CBEC_STACK_DIR": str(self.stack_dir), "CBEC_PG_DURABLE": "1" if self.durable else "0"}
        for name in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL"):
            env.pop(name, None)
        done = subprocess.run(["bash", str(SCRIPTS / f"{server}.sh"), action], env=env, capture_output=True,
                              text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines()
            own = [line for line in lines[:-15] if line.startswith(f"[{server}]")]  # the script's own words
            tail = "\n".join([*own, *lines[-15:]])
            raise ServerError(f"{server}.sh {action} failed (exit {done.returncode}):\n{tail}")
        return parse_env_lines(done.stdout)

    def start(self, *, use_given: bool = True) -> None:
        """Starts Kafka and Postgres, each unless given in KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL."""
        self.stack_dir.mkdir(parents=True, exist_ok=True)
        for server, variable in (("kafka", "KAFKA_BOOTSTRAP_SERVERS"), ("postgres", "DATABASE_URL")):
            given = os.environ.get(variable) if use_given else None
            if given:
                self.values[variable] = given
                continue
            try:
                self.values.update(self.script(server, "start"))
            except (ServerError, subprocess.TimeoutExpired):
                self.stop()
                raise
            self.started.append(server)

    def restart(self, server: str) -> None:
        if server not in self.started:
            raise ServerError(f"{server} was given from outside: this run cannot restart it")
        self.script(server, "restart")

    def stop(self) -> None:
        """Stops the broker before the database; removes the Postgres data the run made."""
        for server in sorted(self.started, key=("kafka", "postgres").index):
            try:
                self.script(server, "stop", timeout=120)
            except (ServerError, subprocess.TimeoutExpired):
                pass
        location = self.stack_dir / "postgres" / "pgdata.location"
        if "postgres" in self.started and location.exists():
            subprocess.run(["rm", "-rf", location.read_text().strip()], check=False)
        self.started.clear()

    def pids(self) -> dict[str, int]:
        """The server processes this run started (for CPU sampling)."""
        found = {}
        kafka_pid = self.stack_dir / "kafka" / "kafka.pid"
        if "kafka" in self.started and kafka_pid.exists():
            found["kafka"] = int(kafka_pid.read_text().strip())
        location = self.stack_dir / "postgres" / "pgdata.location"
        if "postgres" in self.started and location.exists():
            postmaster = Path(location.read_text().strip()) / "postmaster.pid"
            try:
                found["postgres"] = int(postmaster.read_text().splitlines()[0])
            except (OSError, ValueError, IndexError):
                pass
        return found

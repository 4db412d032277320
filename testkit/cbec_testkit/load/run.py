"""One load run: servers, keys, every service and the simulator as processes, N clearances published,
``cbec.out.status`` followed until every list is released, then the report and the arrival check.

    with LoadRun(RunConfig(clearances=200), folder) as run:
        report = run.execute(during=lambda run: ...)   # faults go in `during`, on its own thread

The run is bounded: it waits for the last releases until nothing has moved for ``stall_seconds``
(or ``max_seconds`` passed) and then reports what is missing.

Every ``checkpoint_every`` seconds of the load the run notes its releases and the services' CPU
(``soak``: the windows and the flat-or-not verdict of a soak). With ``restart_check`` it first offers
``restart_after`` clearances, waits for them, and times a kill -9 and start of the customs link on the
quiet platform; after the load it does the same again, so the two starts differ only in the platform's
age (those first clearances count in the arrival check, not in the figures).
"""

from __future__ import annotations

import os
import platform
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cbec.privacy.cipher import new_key

from cbec_testkit.load.arrivals import NAMES, check_arrivals, read_arrivals
from cbec_testkit.load.clearances import Publisher, Sent
from cbec_testkit.load.cpu import TICKS, CpuSampler, read_stat
from cbec_testkit.load.identities import provision_signer_keys
from cbec_testkit.load.processes import SCALABLE, SERVICES, SIMULATOR, Processes
from cbec_testkit.load.servers import Servers
from cbec_testkit.load.soak import (
    TOLERANCE,
    Checkpoint,
    RestartTiming,
    RestartVerdict,
    SoakVerdict,
    Window,
    soak_verdict,
    window_lines,
    windows,
)
from cbec_testkit.load.stats import summary
from cbec_testkit.load.watch import StatusFollower, StatusWatch


@dataclass
class RunConfig:
    clearances: int = 200
    rate: float | None = None  # clearances/s offered; None: one burst
    minutes: float | None = None  # soak: publish at `rate` for this long instead of `clearances`
    replicas: int = 1
    partitions: int = 4
    durable: bool = False  # Postgres with fsync on
    use_given_servers: bool = True
    resends_allowed: bool = False  # customs loses receipts: a document may arrive again, as itself
    env: dict[str, str] = field(default_factory=dict)  # CBEC_* overrides (simulator delays, timeouts …)
    stall_seconds: float = 180.0
    max_seconds: float = 3600.0
    progress_every: float = 5.0
    checkpoint_every: float = 60.0  # the soak's window, seconds
    tolerance: float = TOLERANCE  # the soak's and the restart check's bound
    restart_check: bool = False  # time kill -9 + start of the customs link early and at the end
    restart_after: int = 100  # clearances released before the early restart
    restart_settle: float = 10.0  # seconds after ready whose CPU still counts to the start


@dataclass
class Report:
    """The run's figures and verdicts; ``lines()`` is what the benchmark prints."""

    config: RunConfig
    published: int
    released: int
    missing: list[str]
    alerts: list[dict[str, object]]
    rejections: list[dict[str, object]]
    arrival_problems: list[str]
    unreadable_files: list[str]
    seconds: float
    per_minute: list[int]
    latencies: dict[str, list[float]]  # "order sent" … "released" → seconds
    cpu: dict[str, float]
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    crashes: dict[str, list[int]]
    windows: list[Window] = field(default_factory=list)
    restarts: list[RestartTiming] = field(default_factory=list)
    warmup: int = 0  # clearances before the early restart check (not in the figures)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.alerts or self.arrival_problems or self.unreadable_files)

    @property
    def soak(self) -> SoakVerdict | None:
        return soak_verdict(self.windows, self.config.tolerance) if self.config.minutes else None

    @property
    def restart(self) -> RestartVerdict | None:
        if len(self.restarts) < 2:
            return None
        return RestartVerdict(self.restarts[0], self.restarts[-1], self.config.tolerance)

    @property
    def verdicts_ok(self) -> bool:
        """The soak flat (when judged) and the late restart as fast as the early one (when checked)."""
        soak, restart = self.soak, self.restart
        return (soak is None or not soak.judged or soak.flat) and (restart is None or restart.ok)

    @property
    def throughput(self) -> float:
        return self.released / self.seconds if self.seconds > 0 else 0.0

    def lines(self) -> list[str]:
        c = self.config
        out = [f"machine: {machine()}",
               f"load average: start {_load(self.load_before)}, end {_load(self.load_after)}",
               f"config: {self.published} clearances, rate {c.rate or 'burst'}, replicas {c.replicas}, "
               f"partitions {c.partitions}, Postgres fsync {'on' if c.durable else 'off'}",
               f"released {self.released}/{self.published} in {self.seconds:.1f} s: "
               f"{self.throughput:.2f} clearances/s"]
        if self.warmup:
            out.append(f"restart check: {self.warmup} clearances offered and released before the load "
                       "(in the arrival check, not in these figures)")
        if self.per_minute:
            out.append("released per minute: " + ", ".join(str(n) for n in self.per_minute))
        soak = self.soak
        if soak is not None:
            out.append(f"soak, per {c.checkpoint_every:.0f} s window from the first send "
                       "(*: full, the verdict compares the first and the last of them):")
            out += window_lines(self.windows)
            out.append(soak.line())
        out.append("latency from intake:")
        out += [f"  {name:<16} {summary(values)}" for name, values in self.latencies.items()]
        services = sum(v for k, v in self.cpu.items() if k in SERVICES)
        per = max(self.released, 1)
        out.append(f"CPU per clearance: services {1000 * services / per:.1f} ms in total")
        for name in (*SERVICES, SIMULATOR, "kafka", "postgres", "harness"):
            if name in self.cpu:
                apart = "" if name in SERVICES else "  (apart)"
                out.append(f"  {name:<10} {1000 * self.cpu[name] / per:8.1f} ms  ({self.cpu[name]:.1f} s){apart}")
        if self.restarts:
            out.append("restart of the customs link (kill -9, start until ready, on the quiet platform):")
            out += [timing.line() for timing in self.restarts]
            if (restart := self.restart) is not None:
                out.append(restart.line())
        if self.crashes:
            out.append(f"processes that exited on their own and were restarted: {self.crashes}")
        out.append(f"alerts: {len(self.alerts)}; customs rejections: {len(self.rejections)}")
        for alert in self.alerts[:10]:
            out.append(f"  ALERT {alert.get('clearanceKey')} {alert.get('docType')}: {alert.get('reason')}")
        for rejection in self.rejections[:10]:
            out.append(f"  rejected {rejection.get('clearanceKey')} {rejection.get('docType')}: "
                       f"{rejection.get('status')} {rejection.get('reason', '')}")
        if self.missing:
            out.append(f"NOT RELEASED ({len(self.missing)}): {', '.join(self.missing[:20])}")
        check = "every document arrived once, in prerequisite order" if not c.resends_allowed else \
            "every document arrived (resends only as itself), in prerequisite order"
        if self.arrival_problems or self.unreadable_files:
            out.append(f"ARRIVAL CHECK FAILED ({len(self.arrival_problems)} problems):")
            out += [f"  {p}" for p in self.arrival_problems[:30]]
            out += [f"  unreadable DXP file {n}" for n in self.unreadable_files[:10]]
        else:
            out.append(f"arrival check at the simulator: OK ({check})")
        return out


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    model = model or platform.processor() or "unknown model"
    return f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}"


def _load(values: tuple[float, float, float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


class LoadRun:
    """The stack of one run in ``folder``; ``execute`` does the load. Stops everything on exit."""

    def __init__(self, config: RunConfig, folder: Path, *, say: Callable[[str], None] = print) -> None:
        self.config, self.folder, self.say = config, folder.resolve(), say
        self.servers = Servers(self.folder / "stack", durable=config.durable)
        self.processes: Processes | None = None
        self.journal = self.folder / "dxp" / "simulator-journal.txt"
        self.outbox = self.folder / "dxp" / "outbox"
        self.follower: StatusFollower | None = None
        self.watch = StatusWatch()
        self.publisher: Publisher | None = None
        self.sampler: CpuSampler | None = None
        self.events: list[str] = []  # what the faults did, with times
        self.checkpoints: list[Checkpoint] = []
        self.restarts: list[RestartTiming] = []

    # -- the stack ---------------------------------------------------------------------------------
    def __enter__(self) -> LoadRun:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        c = self.config
        self.say(f"starting Kafka and Postgres (fsync {'on' if c.durable else 'off'}) in {self.servers.stack_dir}")
        self.servers.start(use_given=c.use_given_servers)
        signer = provision_signer_keys(self.folder / "keys")
        for sub in ("outbox", "inbox"):
            (self.folder / "dxp" / sub).mkdir(parents=True, exist_ok=True)
        env = {**os.environ,
               "CBEC_KAFKA_BOOTSTRAP_SERVERS": self.servers.kafka, "KAFKA_BOOTSTRAP_SERVERS": self.servers.kafka,
               "CBEC_DATABASE_URL": self.servers.database_url, "DATABASE_URL": self.servers.database_url,
               "CBEC_SCHEMA_PREFIX": f"l{uuid.uuid4().hex[:8]}_", "CBEC_PII_KEYS": f"k1:{new_key()}",
               "CBEC_DXP_OUTBOX": str(self.outbox), "CBEC_DXP_INBOX": str(self.folder / "dxp" / "inbox"),
               "CBEC_SIMULATOR_JOURNAL": str(self.journal), "CBEC_SIMULATOR_DELAY": "0",
               "CBEC_TOPIC_PARTITIONS": str(c.partitions), "CBEC_ENV": "development",
               "CBEC_LOG_LEVEL": os.environ.get("CBEC_LOG_LEVEL", "WARNING"), **signer, **c.env}
        env.pop("CBEC_HTTP_PORT", None)
        self.processes = Processes(env, self.folder / "services")
        for service in SERVICES:
            self.processes.add(service, c.replicas if service in SCALABLE else 1)
        self.processes.add(SIMULATOR)
        self.say(f"starting {len(self.processes.replicas)} processes: {', '.join(self.processes.replicas)}")
        self.processes.start_all()
        self.follower = StatusFollower(self.servers.kafka, self.watch)
        self.publisher = Publisher(self.servers.kafka)
        self.sampler = CpuSampler(self._pids, trees=frozenset({"postgres"}))

    def _pids(self) -> list[tuple[str, int]]:
        found = self.processes.pids() if self.processes is not None else []
        return [*found, *self.servers.pids().items(), ("harness", os.getpid())]

    def close(self) -> None:
        if self.follower is not None:
            self.follower.close()
        if self.publisher is not None:
            self.publisher.close()
        if self.processes is not None:
            self.processes.stop_all()
        self.servers.stop()

    def note(self, what: str) -> None:
        """Records (and prints) a fault the run injected."""
        line = f"[{time.strftime('%H:%M:%S')}] {what}"
        self.events.append(line)
        self.say(line)

    def released(self) -> int:
        return self.follower.snapshot()[0] if self.follower is not None else 0

    def idle_cost(self, seconds: float, settle: float = 5.0) -> dict[str, float]:
        """Percent of one core each process used over ``seconds`` with no traffic (after ``settle``
        seconds for start-up work to end)."""
        time.sleep(settle)
        sampler = CpuSampler(self._pids, trees=frozenset({"postgres"}))
        sampler.start()
        time.sleep(seconds)
        sampler.stop()
        return {name: 100 * used / seconds for name, used in sampler.seconds().items()}

    # -- the load ----------------------------------------------------------------------------------
    def execute(self, during: Callable[[LoadRun], None] | None = None, *, base: int | None = None) -> Report:
        c = self.config
        assert self.publisher is not None and self.follower is not None and self.sampler is not None
        base = base if base is not None else (int(time.time()) % 100_000) * 100_000
        if c.minutes:
            if not c.rate:
                raise ValueError("a soak (--minutes) needs a steady --rate")
            count = int(c.minutes * 60 * c.rate)
        else:
            count = c.clearances
        warmup = c.restart_after if c.restart_check else 0
        if warmup:
            self._warm_up(range(base, base + warmup))
        load_before = os.getloadavg()
        self.sampler.start()
        started = time.time()
        self.checkpoints = [Checkpoint(0.0, self.released(), 0.0, load_before[0])]
        publishing = threading.Thread(target=self.publisher.run, args=(range(base + warmup, base + warmup + count),),
                                      kwargs={"rate": c.rate, "announce": self.follower.expect},
                                      name="publisher", daemon=True)
        publishing.start()
        faults: threading.Thread | None = None
        fault_error: list[BaseException] = []
        if during is not None:
            def inject() -> None:
                try:
                    during(self)
                except BaseException as error:  # noqa: BLE001 - reported with the run
                    fault_error.append(error)
                    self.note(f"fault injection failed: {error!r}")

            faults = threading.Thread(target=inject, name="faults", daemon=True)
            faults.start()
        self._wait(warmup + count, publishing, faults, started, checkpoints=True)
        self.sampler.stop()
        load_after = os.getloadavg()
        if fault_error:
            raise fault_error[0]
        if c.restart_check:
            self.restarts.append(self.time_restart())
        return self._report(list(self.publisher.published), started, load_before, load_after, warmup=warmup)

    def _warm_up(self, numbers: range) -> None:
        """The restart check's first half: ``numbers`` clearances offered at the run's rate and waited
        for, then the customs link killed and started on the quiet platform."""
        assert self.publisher is not None and self.follower is not None
        self.say(f"restart check: {len(numbers)} clearances first")
        publishing = threading.Thread(target=self.publisher.run, args=(numbers,),
                                      kwargs={"rate": self.config.rate, "announce": self.follower.expect},
                                      name="publisher", daemon=True)
        publishing.start()
        self._wait(len(numbers), publishing, None, time.time())
        self.restarts.append(self.time_restart())

    def time_restart(self, service: str = "receipts") -> RestartTiming:
        """kill -9 ``service`` (its first replica) and start it: the time until it is ready, and the CPU
        its new process used until then and ``restart_settle`` seconds later."""
        assert self.processes is not None
        after = self.released()
        self.say(f"restart check: kill -9 {service} after {after} released clearances")
        self.processes.kill(service)
        begin = time.monotonic()
        self.processes.spawn(service)
        self.processes.wait_ready([service])
        ready = time.monotonic() - begin
        pid = self.processes.replicas[service].pid

        def cpu() -> float:
            stat = read_stat(pid) if pid is not None else None
            return stat.own / TICKS if stat is not None else float("nan")

        to_ready = cpu()
        time.sleep(self.config.restart_settle)
        timing = RestartTiming(service, after, ready, to_ready, cpu(), self.config.restart_settle)
        self.say(timing.line().strip())
        return timing

    def _checkpoint(self, started: float) -> None:
        assert self.sampler is not None
        self.sampler.sample()
        cpu = sum(v for k, v in self.sampler.seconds().items() if k in SERVICES)
        self.checkpoints.append(Checkpoint(time.time() - started, self.released(), cpu, os.getloadavg()[0]))

    def _wait(self, count: int, publishing: threading.Thread, faults: threading.Thread | None,
              started: float, *, checkpoints: bool = False) -> None:
        """Until ``count`` clearances of the run settled (or it stalls); with ``checkpoints``, one every
        ``checkpoint_every`` seconds from ``started`` and one at the end."""
        try:
            self._follow(count, publishing, faults, started, checkpoints)
        finally:
            if checkpoints:
                self._checkpoint(started)

    def _follow(self, count: int, publishing: threading.Thread, faults: threading.Thread | None,
                started: float, checkpoints: bool) -> None:
        c = self.config
        assert self.follower is not None and self.publisher is not None
        last_change, last_seen, last_print = time.monotonic(), -1, 0.0
        while True:
            released, settled, alerts, seen = self.follower.snapshot()
            now = time.monotonic()
            if seen != last_seen:  # any status message of the run's clearances is progress
                last_seen, last_change = seen, now
            busy = publishing.is_alive() or (faults is not None and faults.is_alive())
            if now - last_print >= c.progress_every:
                last_print = now
                elapsed = time.time() - started
                sent = len(self.publisher.published)
                self.say(f"  {elapsed:6.0f} s  sent {sent}/{count}  released {released}  "
                         f"({released / elapsed if elapsed else 0:.1f}/s)  alerts {alerts}")
            if settled >= count and not busy:  # every clearance released, or alerted (it will not move)
                return
            if not busy and now - last_change > c.stall_seconds:
                self.say(f"no status message for {c.stall_seconds:.0f} s: giving up")
                return
            limit = max(c.max_seconds, (c.minutes or 0.0) * 60 + c.stall_seconds)  # a soak may be long
            if time.time() - started > limit:
                self.say(f"run longer than {limit:.0f} s: giving up")
                return
            pause = 0.5
            if checkpoints:
                due = started + len(self.checkpoints) * c.checkpoint_every
                if time.time() >= due:
                    self._checkpoint(started)
                    due += c.checkpoint_every
                pause = min(pause, max(0.01, due - time.time()))
            time.sleep(pause)

    def _report(self, clearances: list[Sent], started: float, load_before: tuple[float, float, float],
                load_after: tuple[float, float, float], *, warmup: int = 0) -> Report:
        """The figures of the clearances after the first ``warmup`` (the restart check's); the arrival
        check and what is missing cover them all."""
        assert self.publisher is not None and self.sampler is not None and self.processes is not None
        watch, sent_at = self.watch, self.publisher.sent_at
        measured = clearances[warmup:]
        latencies: dict[str, list[float]] = {}
        for doc_type, name in NAMES.items():
            latencies[f"{name} sent"] = [watch.sent[(c.key, doc_type)] - sent_at[(c.key, doc_type)]
                                         for c in measured if (c.key, doc_type) in watch.sent
                                         and (c.key, doc_type) in sent_at]
        latencies["list released"] = [watch.released[c.key] - sent_at[(c.key, "CEB621")]
                                      for c in measured if c.key in watch.released
                                      and (c.key, "CEB621") in sent_at]
        released = [watch.released[c.key] for c in measured if c.key in watch.released]
        first = min((at for c in measured for d in NAMES if (at := sent_at.get((c.key, d))) is not None),
                    default=started)
        last = max(released, default=first)
        per_minute: list[int] = []
        if self.config.minutes:
            minutes = int((last - first) // 60) + 1
            per_minute = [0] * minutes
            for at in released:
                per_minute[int((at - first) // 60)] += 1
        arrivals, unreadable = read_arrivals(self.journal, self.outbox)
        problems = check_arrivals(arrivals, [c.order_no for c in clearances],
                                  resends_allowed=self.config.resends_allowed)
        c = self.config
        sends = [at for at in sent_at.values() if at >= started]
        offered_until = max(len(measured) / c.rate if c.rate else 0.0, max(sends, default=started) - started)
        return Report(c, len(measured), len(released), watch.missing(),
                      list(watch.alerts), list(watch.rejections), problems, unreadable, last - first, per_minute,
                      latencies, self.sampler.seconds(), load_before, load_after, self.processes.crashes(),
                      windows(self.checkpoints, offered_until), list(self.restarts), warmup)

__all__ = ["LoadRun", "Report", "RunConfig", "machine"]

"""The idle stack: what every process of `cbec up` costs with no traffic, in CPU seconds from /proc.

    .venv/bin/python benchmarks/idle.py [--window 60] [--settle 20] [--runs 3] [--threads 12]

Starts Kafka and Postgres with the repo's scripts in a folder of its own (or takes them from
KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL), then the stack exactly as `cbec up` starts it (every service,
the customs simulator and the console; no SoftHSM token), waits ``--settle`` seconds for start-up work
to end and measures ``--runs`` windows of ``--window`` seconds each. Per window it prints the share of
one core each process used (the run time of its threads, ``/proc/<pid>/task/*/schedstat``, over
the window: CPU the process consumed, which other jobs on the box do not inflate to first order), the
services' total (the simulator, Kafka and Postgres apart) and the load average beside it. With ``--threads N`` it also
lists the N threads that used most, named by ``py-spy dump`` when py-spy is installed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from cbec.privacy.cipher import new_key
from cbec_testkit.load.cpu import TICKS, tree_ticks
from cbec_testkit.load.run import machine
from cbec_testkit.load.servers import Servers

ROOT = Path(__file__).resolve().parents[1]
APART = ("simulator", "kafka", "postgres")  # the test kit's customs and the servers: not the platform's services
TREES = frozenset({"postgres"})  # counted with their worker processes
TARGET = 2.0  # % of one core: an idle stack, every service and the console together (issue #12)


def stack_pids(stack_dir: Path) -> dict[str, int]:
    """The services `cbec up` recorded (``services/<name>.json``)."""
    found = {}
    for record in sorted((stack_dir / "services").glob("*.json")):
        data = json.loads(record.read_text())
        found[str(data["name"])] = int(data["pid"])
    return found


def ticks_of(name: str, pid: int) -> float | None:
    """CPU used so far in clock ticks: the threads' scheduler run time (``schedstat``, exact) for a
    service, the tick counts of ``stat`` for a server tree. Tick counts are sampled at the timer tick,
    and on a quiet box a thread that wakes on a timer tends to run just at the tick: they charged the
    same idle stack 3-4 times more at load 1 than at load 15. Run time is what the CPU really spent."""
    if name in TREES:
        ticks = tree_ticks(pid)
        return None if ticks is None else float(ticks)
    threads = thread_ticks(pid)
    return sum(threads.values()) if threads else None


def thread_ticks(pid: int) -> dict[int, float]:
    """Run time of each live thread of ``pid`` in clock ticks (``/proc/<pid>/task/<tid>/schedstat``,
    nanoseconds on the CPU; threads that ended are not counted, which idle processes rarely have)."""
    out = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            nanoseconds = int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        out[int(task.name)] = nanoseconds * TICKS / 1e9
    return out


def thread_names(pid: int) -> dict[int, str]:
    """Python thread names by native id, from ``py-spy dump`` (empty without py-spy)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        return {}
    done = subprocess.run([spy, "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=60, check=False)
    names = {}
    for line in done.stdout.splitlines():
        match = re.match(r"Thread (\d+) \(\w+\): \"(.*)\"", line)  # py-spy names the native thread id
        if match:
            names[int(match.group(1))] = match.group(2)
    return names


def measure(pids: dict[str, int], window: float, threads: int) -> None:
    load_before = os.getloadavg()
    before = {name: ticks_of(name, pid) for name, pid in pids.items()}
    tasks_before = {name: thread_ticks(pid) for name, pid in pids.items() if name not in APART} if threads else {}
    started = time.monotonic()
    time.sleep(window)
    elapsed = time.monotonic() - started
    after = {name: ticks_of(name, pid) for name, pid in pids.items()}
    tasks_after = {name: thread_ticks(pid) for name, pid in pids.items() if name not in APART} if threads else {}
    load_after = os.getloadavg()
    share = {}
    for name in pids:
        first, last = before[name], after[name]
        if first is None or last is None:
            print(f"  {name}: gone during the window", flush=True)
            continue
        share[name] = 100 * (last - first) / TICKS / elapsed
    services = sum(v for k, v in share.items() if k not in APART)
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}: {elapsed:.0f} s window, load average "
          f"{' / '.join(f'{v:.2f}' for v in load_before)} -> {' / '.join(f'{v:.2f}' for v in load_after)}",
          flush=True)
    verdict = "within" if services <= TARGET else "above"
    print(f"  services in total (the console included): {services:.2f} % of one core, {verdict} the "
          f"{TARGET:.0f} % target of issue #12", flush=True)
    for name, value in sorted(share.items(), key=lambda item: (item[0] in APART, item[0])):
        print(f"  {name:<10} {value:6.2f} %{'  (apart)' if name in APART else ''}", flush=True)
    if threads:
        used = sorted(((after_ticks - tasks_before[name].get(tid, 0), name, tid)
                       for name, tasks in tasks_after.items() for tid, after_ticks in tasks.items()), reverse=True)
        named = {name: thread_names(pids[name]) for name in {n for _, n, _ in used[:threads]}}
        print("  busiest threads (% of one core):", flush=True)
        for ticks, name, tid in used[:threads]:
            what = named.get(name, {}).get(tid, "?")
            print(f"    {100 * ticks / TICKS / elapsed:6.2f} %  {name:<10} tid {tid:<8} {what}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window", type=float, default=60.0, help="seconds per measured window")
    parser.add_argument("--settle", type=float, default=20.0, help="seconds after `cbec up` before measuring")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, metavar="N", help="list the N busiest threads")
    parser.add_argument("--dir", type=Path, default=None, help="the run's folder (kept with --keep)")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--env", action="append", default=[], metavar="CBEC_X=V", help="a setting for every process")
    args = parser.parse_args(argv)
    folder = (args.dir or ROOT / ".stack" / f"idle-{os.getpid()}").resolve()
    stack_dir = folder / "stack"
    servers = Servers(folder / "servers")
    env = {**os.environ, "CBEC_SCHEMA_PREFIX": f"i{uuid.uuid4().hex[:8]}_", "CBEC_PII_KEYS": f"k1:{new_key()}",
           **dict(item.split("=", 1) for item in args.env)}
    cbec = [sys.executable, "-m", "cbec_cli.main"]
    up = False
    try:
        servers.start()
        env.update(servers.values)
        print(f"machine: {machine()}", flush=True)
        done = subprocess.run([*cbec, "up", "--dir", str(stack_dir), "--no-hsm", "--wait", "240"], env=env,
                              capture_output=True, text=True, timeout=600, check=False)
        up = True
        if done.returncode != 0:
            print(done.stdout[-3000:], done.stderr[-3000:], sep="\n")
            return 1
        pids = {**stack_pids(stack_dir), **servers.pids()}
        print(f"stack up: {', '.join(sorted(pids))}; settling {args.settle:.0f} s", flush=True)
        time.sleep(args.settle)
        for _ in range(args.runs):
            measure(pids, args.window, args.threads)
    finally:
        if up:
            subprocess.run([*cbec, "down", "--dir", str(stack_dir)], env=env, capture_output=True, timeout=300,
                           check=False)
        servers.stop()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

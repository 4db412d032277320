"""Full clearances through the whole platform: every service and the customs simulator as processes
on real Kafka and Postgres, N clearances published in reverse prerequisite order, followed on
``cbec.out.status`` until every list is released.

    .venv/bin/python benchmarks/clearance.py --clearances 300 [--rate 50] [--replicas 2] [--partitions 4]
    .venv/bin/python benchmarks/clearance.py --minutes 10 --rate 100        # soak: releases per minute
    .venv/bin/python benchmarks/clearance.py --minutes 17 --rate 100 --restart-check   # the 100,000 soak
    .venv/bin/python benchmarks/clearance.py --faults kill --clearances 200  # the fault tests, full size

Starts its own Kafka and Postgres with ``scripts/kafka.sh`` / ``scripts/postgres.sh`` in a folder of
its own (``--dir``, default ``.stack/bench-<pid>``), unless KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL
are given (then on a fresh schema prefix; the status topic is filtered to this run's clearances).
Prints clearances/s, p50/p99 from intake to "sent to customs" per document type and to the list's
release, CPU per clearance of each service (the simulator, Kafka, Postgres and the harness apart),
the load average and the machine, and ends with the simulator's check that every document arrived
exactly once (appType 1) in prerequisite order. Exits 1 when that check fails, a clearance is not
released in the bounded wait, or an alert was raised.

A soak (``--minutes``) also prints, per window of ``--checkpoint-every`` seconds (a minute), the
releases per minute, the services' CPU per clearance and the load average, and a verdict: the first
full window against the last, each figure within ±``--tolerance`` (10 %). ``--restart-check`` first
offers ``--restart-after`` clearances (100), waits for them, kill -9's the customs link (``cbec run
receipts``) and times its start until ready on the quiet platform; after the load, the same again;
it prints both and their ratio, judged on the start's CPU. Exits 1 too when a verdict fails.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from cbec_testkit.load.faults import SCENARIOS, scenario_config
from cbec_testkit.load.processes import SERVICES
from cbec_testkit.load.run import LoadRun, RunConfig

ROOT = Path(__file__).resolve().parents[1]


def print_idle(percent: dict[str, float], seconds: float) -> None:
    services = {k: v for k, v in percent.items() if k in SERVICES}
    print(f"idle stack over {seconds:.0f} s: services {sum(services.values()):.2f} % of one core in total", flush=True)
    for name, value in sorted(percent.items()):
        print(f"  {name:<10} {value:6.2f} %{'' if name in SERVICES else '  (apart)'}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clearances", type=int, default=300)
    parser.add_argument("--rate", type=float, default=None, help="clearances/s offered (default: one burst)")
    parser.add_argument("--minutes", type=float, default=None, help="soak: publish at --rate for this long")
    parser.add_argument("--replicas", type=int, default=1, help="processes of each scalable service")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--durable", action="store_true", help="Postgres with fsync on")
    parser.add_argument("--faults", choices=sorted(SCENARIOS), default=None,
                        help="run a fault scenario of tests/integration/test_faults.py at this size")
    parser.add_argument("--idle", type=float, default=0.0, metavar="SECONDS",
                        help="first measure the idle stack's CPU for this long (no traffic)")
    parser.add_argument("--stall", type=float, default=180.0, help="give up after this long without a status message")
    parser.add_argument("--dir", type=Path, default=None, help="the run's folder (kept with --keep)")
    parser.add_argument("--keep", action="store_true", help="keep the run's folder (logs, DXP files)")
    parser.add_argument("--env", action="append", default=[], metavar="CBEC_X=V",
                        help="a setting for every process (e.g. CBEC_SIMULATOR_DELAY=0.2)")
    parser.add_argument("--checkpoint-every", type=float, default=60.0, metavar="SECONDS",
                        help="soak: the window of the per-minute figures (default 60 s)")
    parser.add_argument("--tolerance", type=float, default=10.0, metavar="PERCENT",
                        help="soak and restart verdicts: the bound for flat (default 10 %%)")
    parser.add_argument("--restart-check", action="store_true",
                        help="time a kill -9 and start of the customs link after --restart-after clearances "
                             "and again at the end, on the quiet platform")
    parser.add_argument("--restart-after", type=int, default=100, metavar="N",
                        help="clearances before the first restart check (default 100)")
    args = parser.parse_args(argv)
    folder = (args.dir or ROOT / ".stack" / f"bench-{os.getpid()}").resolve()
    extra = dict(item.split("=", 1) for item in args.env)
    config = RunConfig(clearances=args.clearances, rate=args.rate, minutes=args.minutes, replicas=args.replicas,
                       partitions=args.partitions, durable=args.durable, stall_seconds=args.stall, env=extra,
                       checkpoint_every=args.checkpoint_every, tolerance=args.tolerance / 100,
                       restart_check=args.restart_check, restart_after=args.restart_after)
    during = None
    if args.faults:
        config, during = scenario_config(args.faults, config)
    try:
        with LoadRun(config, folder, say=lambda line: print(line, flush=True)) as run:
            if args.idle:
                print_idle(run.idle_cost(args.idle), args.idle)
            report = run.execute(during)
            print()
            for line in report.lines():
                print(line)
            for line in run.events:
                print(f"fault: {line}")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"run folder kept: {folder}")
    return 0 if report.ok and report.verdicts_ok else 1


if __name__ == "__main__":
    sys.exit(main())

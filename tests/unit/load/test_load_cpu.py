"""CPU sampling reads utime + stime from /proc/<pid>/stat, whatever the process is called."""

from __future__ import annotations

import os
from pathlib import Path

from cbec_testkit.load.cpu import TICKS, CpuSampler, parse_stat, read_stat, tree_ticks


def _stat(pid: int, comm: str, ppid: int, utime: int, stime: int, cutime: int = 0, cstime: int = 0) -> str:
    # fields 1..17 of proc(5): pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt
    # cmajflt utime stime cutime cstime, then the rest
    return (f"{pid} ({comm}) S {ppid} 1 1 0 -1 4194560 100 0 0 0 {utime} {stime} {cutime} {cstime} "
            "20 0 1 0 500 1000000 200 18446744073709551615\n")


def _proc(root: Path, *stats: tuple[int, str]) -> Path:
    for pid, line in stats:
        (root / str(pid)).mkdir()
        (root / str(pid) / "stat").write_text(line)
    return root


def test_a_command_name_with_spaces_and_parentheses_does_not_shift_the_fields() -> None:
    stat = parse_stat(_stat(42, "java (kafka) x", 7, utime=120, stime=30, cutime=5, cstime=1))
    assert (stat.ppid, stat.own, stat.reaped_children) == (7, 150, 6)


def test_this_process_can_be_read_and_has_used_some_cpu() -> None:
    sum(i * i for i in range(200_000))
    stat = read_stat(os.getpid())
    assert stat is not None and stat.own > 0


def test_a_server_is_charged_for_its_live_and_its_reaped_children(tmp_path: Path) -> None:
    proc = _proc(tmp_path, (10, _stat(10, "postgres", 1, 100, 50, cutime=20, cstime=10)),
                 (11, _stat(11, "postgres: backend", 10, 7, 3)), (12, _stat(12, "other", 1, 999, 999)))
    assert tree_ticks(10, proc) == 100 + 50 + 20 + 10 + 7 + 3
    assert tree_ticks(99, proc) is None


def test_the_sampler_counts_from_the_start_and_keeps_a_killed_process_last_sample(tmp_path: Path) -> None:
    proc = _proc(tmp_path, (20, _stat(20, "cbec", 1, 100, 0)))
    pids = [("order", 20)]
    sampler = CpuSampler(lambda: pids, interval=3600, proc=proc)
    sampler.start()  # baseline: 100 ticks already used before the run
    (proc / "20" / "stat").write_text(_stat(20, "cbec", 1, 100 + 2 * TICKS, 0))
    sampler.sample()
    # killed, and a new life started after the run began: all of its CPU counts
    (proc / "20" / "stat").unlink()
    (proc / "21").mkdir()
    (proc / "21" / "stat").write_text(_stat(21, "cbec", 1, TICKS, 0))
    pids[:] = [("order", 21)]
    sampler.stop()
    assert sampler.seconds() == {"order": 3.0}

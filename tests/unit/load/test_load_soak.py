"""The soak's verdict: the first full window against the last, releases per minute and service CPU per
clearance each within ±10 %; and the customs link's late restart against its early one."""

from __future__ import annotations

import math

from cbec_testkit.load.soak import (
    Checkpoint,
    RestartTiming,
    RestartVerdict,
    Window,
    soak_verdict,
    window_lines,
    windows,
)


def soak(per_window: list[tuple[int, float]], *, every: float = 60.0, offered: float | None = None) -> list[Window]:
    """Windows of ``every`` seconds with (releases, service CPU seconds) each; the offered load ran
    through all of them unless ``offered`` says otherwise."""
    points, released, cpu = [Checkpoint(0.0, 0, 0.0, 1.0)], 0, 0.0
    for i, (n, seconds) in enumerate(per_window, 1):
        released, cpu = released + n, cpu + seconds
        points.append(Checkpoint(i * every + 0.3, released, cpu, 2.0))  # a checkpoint comes a little late
    return windows(points, offered if offered is not None else len(per_window) * every)


def test_the_first_window_is_never_judged_and_the_draining_tail_neither() -> None:
    found = soak([(250, 10.0), (300, 12.0), (300, 12.0), (40, 2.0)], offered=180.0)
    assert [w.full for w in found] == [False, True, True, False]
    assert found[1].per_minute == 60 * 300 / 60.0 and found[1].cpu_ms_per_clearance == 40.0


def test_a_steady_soak_is_flat() -> None:
    verdict = soak_verdict(soak([(250, 10.0), (300, 12.0), (297, 12.3), (303, 12.1)]))
    assert verdict.judged and verdict.flat
    assert (verdict.first, verdict.last) == (1, 3)
    assert verdict.line().startswith("soak verdict: FLAT within ±10 %, window 2 against window 4:")


def test_throughput_falling_by_more_than_ten_percent_is_not_flat() -> None:
    verdict = soak_verdict(soak([(250, 10.0), (300, 12.0), (300, 12.0), (265, 10.6)]))
    assert not verdict.flat
    [releases, cpu] = verdict.changes or ()
    assert math.isclose(releases.relative, 265 / 300 - 1) and not releases.within(0.10)
    assert cpu.within(0.10)  # 40 ms per clearance both times
    assert "NOT FLAT" in verdict.line() and "(-11.7 %)" in verdict.line()


def test_cpu_per_clearance_growing_with_age_is_not_flat_even_at_the_same_throughput() -> None:
    verdict = soak_verdict(soak([(250, 10.0), (300, 12.0), (300, 12.0), (300, 13.5)]))
    assert not verdict.flat
    assert [c.within(0.10) for c in verdict.changes or ()] == [True, False]


def test_the_bound_is_inclusive_and_can_be_chosen() -> None:
    steady = soak([(250, 10.0), (300, 12.0), (330, 13.2)])  # +10 % releases, the same CPU per clearance
    assert soak_verdict(steady).flat
    assert not soak_verdict(steady, tolerance=0.05).flat


def test_fewer_than_two_full_windows_are_not_judged() -> None:
    verdict = soak_verdict(soak([(250, 10.0), (300, 12.0), (40, 1.0)], offered=120.0))
    assert not verdict.judged and not verdict.flat
    assert "NOT JUDGED, 1 full window(s)" in verdict.line()


def test_the_table_marks_the_full_windows_and_shows_a_dash_without_releases() -> None:
    lines = window_lines(soak([(0, 3.0), (300, 12.0), (300, 12.0)]))
    assert lines[1].split()[:2] == ["1", "0"] and "– ms" in lines[1]
    assert lines[2].split()[0] == "2*" and "40.0 ms" in lines[2]


def timing(after: int, ready: float, cpu: float) -> RestartTiming:
    return RestartTiming("receipts", after, ready, cpu * 0.8, cpu, 10.0)


def test_a_late_restart_costing_what_the_early_one_cost_is_as_fast() -> None:
    verdict = RestartVerdict(timing(100, 41.0, 2.0), timing(100_000, 38.0, 2.1), 0.10)
    assert verdict.ok
    assert math.isclose(verdict.cpu_ratio, 1.05) and math.isclose(verdict.wall_ratio, 38.0 / 41.0)
    assert verdict.line().startswith("restart verdict: AS FAST")
    assert "after 100000 clearances / after 100: CPU 1.05×, wall 0.93×" in verdict.line()


def test_a_late_restart_that_works_through_the_platform_s_history_is_slower() -> None:
    verdict = RestartVerdict(timing(100, 40.0, 2.0), timing(100_000, 40.0, 9.0), 0.10)
    assert not verdict.ok and "SLOWER" in verdict.line()


def test_a_faster_late_restart_is_fine() -> None:
    assert RestartVerdict(timing(100, 40.0, 2.0), timing(100_000, 20.0, 1.0), 0.10).ok

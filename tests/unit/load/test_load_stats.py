"""The benchmark's percentiles are nearest-rank: a reported p99 is a latency that really occurred."""

from __future__ import annotations

import math

import pytest
from cbec_testkit.load.stats import percentile, summary


def test_the_median_of_an_odd_count_is_the_middle_value() -> None:
    assert percentile([5.0, 1.0, 3.0], 0.5) == 3.0


def test_p99_of_a_hundred_latencies_is_the_99th_and_not_the_worst() -> None:
    values = [float(i) for i in range(1, 101)]
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0


def test_p99_of_few_latencies_is_the_worst_one() -> None:
    assert percentile([0.1, 0.2, 9.0], 0.99) == 9.0


def test_no_latencies_give_no_number_and_a_dash_in_the_summary() -> None:
    assert math.isnan(percentile([], 0.5))
    assert summary([]) == "–"


def test_a_quantile_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError):
        percentile([1.0], 0)


def test_the_summary_names_p50_p99_and_the_count() -> None:
    assert summary([1.0, 2.0, 3.0, 4.0]) == "p50 2.00 s  p99 4.00 s  (n=4)"

"""The hostile-input suite's totals (named to run last in this folder): at least 10,000 hostile inputs per
run across schemathesis, the Kafka poison catalogue and the XML catalogue, and what each hostile test
added to the process's peak memory under the bound. The counts are in tests/hostile/last-counts.json after each run."""

from __future__ import annotations

import pytest
from counts import FILE, KINDS, MEMORY_BOUND_BYTES, MINIMUM_TOTAL, per_kind, suite_peak_bytes, summary


def test_the_suite_sent_at_least_10000_hostile_inputs_and_stayed_under_the_memory_bound() -> None:
    kinds = per_kind()
    if not all(kinds.values()):
        pytest.skip(f"only part of the hostile suite ran ({kinds}); the totals need all of {KINDS}")
    print(f"\nhostile-input suite: {kinds}, total {sum(kinds.values())}; peak RSS growth "
          f"{suite_peak_bytes() // 2**20} MiB (bound {MEMORY_BOUND_BYTES // 2**20} MiB); written to {FILE}")
    assert summary()["total"] == sum(kinds.values()) >= MINIMUM_TOTAL
    assert suite_peak_bytes() <= MEMORY_BOUND_BYTES

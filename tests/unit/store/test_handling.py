"""Retrying a step that lost the optimistic race, and marking a message handled once."""

from __future__ import annotations

import pytest
from cbec.store.errors import AlreadyProcessed, ConcurrencyError
from cbec.store.handling import TooManyWriters, mark_handled, retry_on_conflict


class Racer:
    """A step that loses the race ``losses`` times, then appends."""

    def __init__(self, losses: int) -> None:
        self.losses = losses
        self.reads = 0

    def __call__(self) -> str:
        self.reads += 1
        if self.reads <= self.losses:
            raise ConcurrencyError("the stream moved on")
        return "appended"


def test_a_step_that_lost_the_race_reads_again_and_wins() -> None:
    step = Racer(losses=2)
    assert retry_on_conflict(step, attempts=5) == "appended"
    assert step.reads == 3


def test_a_step_that_keeps_losing_gives_up_after_its_attempts_naming_the_stream() -> None:
    step = Racer(losses=99)
    with pytest.raises(TooManyWriters, match="stream-7: too many concurrent writers"):
        retry_on_conflict(step, attempts=4, what="stream-7")
    assert step.reads == 4


def test_other_errors_are_not_retried() -> None:
    calls = []

    def broken() -> None:
        calls.append(1)
        raise ValueError("bad data")

    with pytest.raises(ValueError):
        retry_on_conflict(broken, attempts=5)
    assert calls == [1]


def test_marking_a_redelivered_message_is_already_done() -> None:
    recorded: list[int] = []

    def record(position: int) -> None:
        if position in recorded:
            raise AlreadyProcessed(str(position))
        recorded.append(position)

    mark_handled(record, 7)
    mark_handled(record, 7)  # a redelivery: no error
    mark_handled(record, None)  # nothing consumed: nothing to record
    assert recorded == [7]

"""The two ways every event-sourced handler meets the store: retry a stale read, and mark a message done.

``retry_on_conflict`` re-runs a read-decide-append step when another writer moved the stream on
(``ConcurrencyError``); ``mark_handled`` records a message's tracking position when it caused no
event, treating a repeat (``AlreadyProcessed``) as done.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn, TypeVar

from tenacity import Retrying as _Retrying
from tenacity import retry_if_exception_type, stop_after_attempt

from cbec.store.errors import AlreadyProcessed, ConcurrencyError

T = TypeVar("T")
P = TypeVar("P")


class TooManyWriters(ConcurrencyError):
    """A step lost the optimistic race ``attempts`` times in a row."""


def retry_on_conflict(step: Callable[[], T], attempts: int, what: object = "") -> T:
    """``step()``, again (reading afresh) while it raises ``ConcurrencyError``; at most ``attempts`` times."""
    retrying = _Retrying(
        retry=retry_if_exception_type(ConcurrencyError),
        stop=stop_after_attempt(max(1, attempts)),
        reraise=False,
        retry_error_callback=lambda _: _give_up(what),
    )
    return retrying(step)


def _give_up(what: object) -> NoReturn:
    raise TooManyWriters(f"{what}: too many concurrent writers")


def mark_handled(record: Callable[[P], object], position: P | None) -> None:
    """Record ``position`` as handled (no event came of the message); a repeat is already done."""
    if position is None:
        return
    try:
        record(position)
    except AlreadyProcessed:
        pass

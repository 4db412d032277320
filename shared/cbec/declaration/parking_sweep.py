"""The slow sweep of parked customs results (:mod:`.parking`): at start-up, then every few minutes.

It applies what a crash between a receipt's numbering and the applying of its parked results left, and
sets ``cbec_results_parked{doc_type}`` and ``cbec_results_parked_overdue{doc_type}`` (parked longer than
``CBEC_RESULTS_PARKED_MAX_DAYS``), logging an error for overdue ones: a result is never dropped for its age.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from cbec.declaration.application import DeclarationApp
from cbec.declaration.parking import Waiting
from cbec.metrics import RESULTS_PARKED, RESULTS_PARKED_OVERDUE
from cbec.runtime import Paced

log = logging.getLogger(__name__)

SWEEP_EVERY = 300.0  # seconds; the receipt path applies parked results at once, the sweep only repairs


def sweeps(app: DeclarationApp) -> bool:
    """Whether ``app`` records results found by a number (so results may park)."""
    return any(p.result_number for p in app.by_result.values())


def sweep(app: DeclarationApp, max_days: float) -> list[Waiting]:
    """One sweep: apply what can be applied, report what waits."""
    left = app.sweep_parked(timedelta(days=max_days))
    for waiting in left:
        RESULTS_PARKED.labels(waiting.doc_type).set(waiting.count)
        RESULTS_PARKED_OVERDUE.labels(waiting.doc_type).set(waiting.overdue)
        if waiting.overdue:
            log.error("%d %s result(s) parked longer than %s days (oldest %.1f days): no receipt here numbers "
                      "the document they name; see the runbook, 'Parked customs results'", waiting.overdue,
                      waiting.doc_type, max_days, waiting.oldest_days)
    return left


def sweeper(app: DeclarationApp, max_days: float, every: float = SWEEP_EVERY) -> Paced:
    """The sweep as a process poller: its first round runs at start-up."""

    def step() -> int:
        sweep(app, max_days)
        return 0

    return Paced(step, lambda: every)

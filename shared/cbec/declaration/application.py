"""The owning services' application: one lifecycle engine, asked by each service's document policies.

Intake (:mod:`.intake`), the saga's commands (:mod:`.saga_steps`) and the feedback from signer,
link and receipts (:mod:`.feedback`) on one core (:mod:`.core`). A service builds it from the
policies in its ``domain`` module (``services/<svc>/<svc>_service/application.py``).
"""

from __future__ import annotations

from cbec.declaration.core import Outcome
from cbec.declaration.feedback import Feedback
from cbec.declaration.intake import Intake
from cbec.declaration.saga_steps import SagaSteps

__all__ = ["DeclarationApp", "Outcome"]


class DeclarationApp(Intake, SagaSteps, Feedback):
    """The owning service of one or more document types (see :class:`cbec.declaration.core.DeclarationCore`)."""

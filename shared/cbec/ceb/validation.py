"""Both validation layers in one place: structure (XSD-level) and business rules (§8)."""

from __future__ import annotations

from cbec.ceb.model import CebMessage
from cbec.ceb.rules import RelatedDocs, validate_business
from cbec.ceb.structure import validate_structure
from cbec.errors import CebError

__all__ = ["RelatedDocs", "validate", "validate_business", "validate_structure"]


def validate(msg: CebMessage, related: RelatedDocs | None = None, *, before_signing: bool = False) -> list[CebError]:
    """Structural findings; when there are none, the business-rule findings."""
    errors = validate_structure(msg, before_signing=before_signing)
    return errors or validate_business(msg, related, before_signing=before_signing)

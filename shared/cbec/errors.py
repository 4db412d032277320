"""The one error type every layer reports: a customs-style code, a field path and a rule."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class CebError:
    """One finding against a document.

    ``code`` is the customs error code where customs has one (e.g. ``-621005``),
    else a ``CBEC-…`` code; ``path`` names the field (``Order[1].OrderList[2].qty``);
    ``rule`` is a short rule id or reference (``XSD``, ``§8.A acturalPaid``).
    """

    code: str
    path: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message} [{self.code}]"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


class CebValidationError(ValueError):
    """Raised when a document or message fails validation; carries every finding."""

    def __init__(self, errors: list[CebError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors[:10]))

"""Commands the saga sends the owning services, each on ``cbec.feedback.<owner>.saga-commands``
(``schemas/saga/saga-command.json``).

- ``{"command": "ReleaseDocument", "docType": "CEB511", "businessKey": ["3105960003", "LN1"],
  "clearanceKey": "3105960001:DEMO1", "commandId": "..."}``: the held document's prerequisites are
  met; release it for signing. Ignored unless the document is held.
- ``{"command": "ResendDocument", "docType", "businessKey", "commandId"}``: a sent document got no
  receipt (or the last one is 4, sending failed): release it again under a new requestId. Ignored
  otherwise, so customs never gets a document it already answered.
- ``{"command": "RefuseDocument", "docType", "businessKey", "commandId", "errors": [{"code",
  "path", "rule", "message"}]}``: the saga refuses a held document (a cancel or return the list's
  state does not allow). Ignored unless the document is held or received.
- ``{"command": "LockClearance", "clearanceKey": "ebpCode:orderNo", "commandId"}``: the clearance's
  list was declared; its order, payment and waybill can no longer change (-301011/-401008/-504016).

A command goes to the service that owns its document type; a lock to every service whose types it
locks (``cbec.declaration.owners``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cbec.contracts.base import ContractError, JsonMessage, ceb_errors, check_schema, finding, text, texts
from cbec.errors import CebError

RELEASE = "ReleaseDocument"
RESEND = "ResendDocument"
REFUSE = "RefuseDocument"
LOCK = "LockClearance"
NAMES = (RELEASE, RESEND, REFUSE, LOCK)
SCHEMA = "saga/saga-command.json"


@dataclass(frozen=True, slots=True)
class SagaCommand(JsonMessage):
    """One command of the saga; ``doc_type`` and ``business_key`` name the document (not for a lock)."""

    command: str
    command_id: str
    clearance_key: str = ""
    doc_type: str = ""
    business_key: tuple[str, ...] = ()
    errors: tuple[CebError, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"command": self.command, "commandId": self.command_id}
        if self.clearance_key:
            data["clearanceKey"] = self.clearance_key
        if self.command != LOCK:
            data["docType"] = self.doc_type
            data["businessKey"] = list(self.business_key)
        if self.command == REFUSE:
            data["errors"] = [e.to_dict() for e in self.errors]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SagaCommand:
        """Read one command, naming the first field that is missing or wrong."""
        name = data.get("command")
        if name not in NAMES:
            raise ContractError([finding("command", f"command must be one of {', '.join(NAMES)}", "saga contract")])
        command_id = text(data, "commandId", required=False)
        if name == LOCK:
            command = cls(LOCK, command_id, clearance_key=text(data, "clearanceKey"))
        else:
            command = cls(
                str(name),
                command_id,
                clearance_key=text(data, "clearanceKey", required=False),
                doc_type=text(data, "docType"),
                business_key=texts(data, "businessKey"),
                errors=ceb_errors(data, "errors") if name == REFUSE else (),
            )
        check_schema(SCHEMA, command.to_dict())  # what was read; unknown fields are ignored
        return command


__all__ = ["LOCK", "NAMES", "REFUSE", "RELEASE", "RESEND", "SagaCommand"]

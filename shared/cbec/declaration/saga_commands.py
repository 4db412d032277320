"""Commands the saga sends the owning services on ``cbec.saga.commands`` (JSON, one per message).

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

Each service acts on the commands for the document types it owns and ignores the rest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from cbec.contracts.commands import CommandRejected
from cbec.errors import CebError

SAGA_COMMANDS_TOPIC = "cbec.saga.commands"

RELEASE = "ReleaseDocument"
RESEND = "ResendDocument"
REFUSE = "RefuseDocument"
LOCK = "LockClearance"
NAMES = (RELEASE, RESEND, REFUSE, LOCK)


@dataclass(frozen=True, slots=True)
class SagaCommand:
    command: str
    command_id: str
    doc_type: str = ""
    business_key: tuple[str, ...] = ()
    clearance_key: str = ""
    errors: list[CebError] = field(default_factory=list)


def _bad(path: str, message: str) -> CommandRejected:
    return CommandRejected([CebError("CBEC-0002", path, "saga contract", message)])


def parse(raw: bytes) -> SagaCommand:
    """Read one saga command; raise :class:`CommandRejected` naming what is wrong."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CommandRejected([CebError("CBEC-0001", "$", "JSON", f"not valid JSON: {exc}")]) from None
    if not isinstance(data, dict):
        raise CommandRejected([CebError("CBEC-0001", "$", "JSON", "the command must be a JSON object")])
    name = data.get("command")
    if name not in NAMES:
        raise _bad("command", f"command must be one of {', '.join(NAMES)}")
    command_id = str(data.get("commandId", ""))
    if name == LOCK:
        key = data.get("clearanceKey")
        if not isinstance(key, str) or not key:
            raise _bad("clearanceKey", "clearanceKey is required")
        return SagaCommand(LOCK, command_id, clearance_key=key)
    doc_type, business_key = data.get("docType"), data.get("businessKey")
    if not isinstance(doc_type, str) or not doc_type:
        raise _bad("docType", "docType is required")
    if not isinstance(business_key, list) or not business_key or not all(isinstance(k, str) for k in business_key):
        raise _bad("businessKey", "businessKey is required (a list of strings)")
    errors: list[CebError] = []
    if name == REFUSE:
        raw_errors = data.get("errors")
        if not isinstance(raw_errors, list) or not raw_errors:
            raise _bad("errors", "errors are required to refuse a document")
        for e in raw_errors:
            if not isinstance(e, dict):
                raise _bad("errors", "each error is an object {code, path, rule, message}")
            errors.append(
                CebError(str(e.get("code", "")), str(e.get("path", "")), str(e.get("rule", "")),
                         str(e.get("message", "")))
            )
    return SagaCommand(
        name, command_id, doc_type, tuple(business_key), str(data.get("clearanceKey", "")), errors
    )

"""The CEB core's rules as the console applies them before anything is sent: the same validator the
intake runs, on the document completed the way the intake completes it (the head fields the platform
owns: guid, appType, appTime, appStatus)."""

from __future__ import annotations

import copy
from typing import Any

from cbec.declaration.doctypes import BY_CODE
from cbec.declaration.intake_validation import validate
from cbec.errors import CebError

_PLATFORM_OWNED = {"guid": "00000000-0000-0000-0000-000000000000", "appType": "1", "appTime": "20260101000000",
                   "appStatus": "2"}


def core_findings(doc_type_code: str, document: dict[str, Any]) -> list[CebError]:
    """Every finding of the CEB core on ``document`` (structure, code tables, business rules)."""
    doc_type = BY_CODE.get(doc_type_code)
    if doc_type is None:
        return [CebError("CBEC-0001", "docType", "docType", f"unknown document type {doc_type_code!r}")]
    completed = copy.deepcopy(document)
    head = completed.get(doc_type.head) if doc_type.head else completed
    if isinstance(head, dict):
        for name, value in _PLATFORM_OWNED.items():
            head.setdefault(name, value)
    return validate(doc_type, completed)

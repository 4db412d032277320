"""Read views of a declaration for APIs and the CLI (personal data stays out)."""

from __future__ import annotations

from typing import Any

from cbec.declaration.lifecycle import Declaration


def status_view(state: Declaration) -> dict[str, Any]:
    """Status, phase, receipt history and intake errors of one document (and an import list's tax bills, once
    customs issued one: ``taxBills``)."""
    current = state.current_receipt
    return {
        "docType": state.doc_type,
        "clearanceKey": state.clearance_key,
        "status": state.status,
        "statusCode": current.status if current else None,
        "phase": state.phase,
        "waitingFor": list(state.waiting_for),
        "fileName": state.file_name,
        "errors": list(state.errors),
        "receipts": [
            {
                "receiptType": r.receipt_type,
                "returnStatus": r.status,
                "returnTime": r.time,
                "returnInfo": r.info,
            }
            for r in sorted(state.receipts, key=lambda r: r.time)
        ],
        **({"taxBills": [b.to_json() for b in sorted(state.tax_bills.values(), key=lambda b: (b.issued, b.tax_no))]}
           if state.tax_bills else {}),
    }

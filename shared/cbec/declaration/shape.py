"""Shape rules a document meets before any other validation: its line count and its key's characters.

- Lines: an order, a list and a return hold at most 99 lines (XSD ``maxOccurs="99"``), counted before
  the schema or the business rules look at any line, so a document of 600,000 lines costs one count.
  An entry list (unbounded in the XSD) holds at most 1,000 waybills here. The code is the policy's
  ``too_many_lines_code``: customs' own where it has one (-621030 for a list), else CBEC-0014. An export
  type's policy names its own bound (``max_lines``: 100 where the export XSD says so, else 1,000).
- Business keys: the key fields (orderNo, copNo, logisticsNo, the enterprise codes …) name a document
  at customs, in receipts, stream names (``kind:a:b``) and URLs (``/v1/documents/CEB311/a/b``). They
  hold ASCII letters, digits and ``-``, ``_``, ``.`` only; a full-width, zero-width, space, tab or
  control character (or ``:``/``/``, which would make two keys one) is refused naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cbec.declaration.doctypes import DocType
from cbec.errors import CebError

MAX_LINES = 99
LINE_LIMITS = {"OrderList": MAX_LINES, "InventoryList": MAX_LINES, "InvtRefundList": MAX_LINES,  # the XSD's
               "DeliveryList": 1000}  # unbounded in the XSD: the platform's own bound
TOO_MANY_LINES = "CBEC-0014"
KEY_CHARACTERS = "CBEC-0013"
_KEY = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]*")


def check_lines(
    doc_type: DocType, document: dict[str, Any], code: str = TOO_MANY_LINES, limit: int | None = None
) -> list[CebError]:
    """At most 99 lines (1,000 in an entry list; ``limit`` when the type's policy names one), reported with
    ``code``."""
    name = doc_type.lines or ""
    limit = limit or LINE_LIMITS.get(name)
    lines = document.get(name)
    if limit is None or not isinstance(lines, list) or len(lines) <= limit:
        return []
    return [CebError(code, name, "lines limit", f"{len(lines)} lines; a {doc_type.kind} holds at most {limit}")]


CLEARANCE_FIELDS = ("ebpCode", "ebcCode", "orderNo")  # name a clearance (ebpCode:orderNo, E:ebcCode:orderNo)
NO_PLATFORM = "无"
"""The ebpCode an overseas platform without a customs code declares (export, ceb-formats §3)."""


def check_key(
    doc_type: DocType, where: str, head: dict[str, Any], ebp_code: str = "", *,
    envelope: Mapping[str, str] | None = None, no_platform: bool = False,
) -> list[CebError]:
    """The key fields, and the fields naming the clearance (the head's ebpCode, ebcCode and orderNo, the
    command's ``ebp_code`` and ``envelope`` fields), hold only the characters customs and the platform's
    addresses accept. With ``no_platform`` an ebpCode may be ``无`` (an overseas platform)."""
    fields = dict.fromkeys((*doc_type.key_fields, *CLEARANCE_FIELDS))
    named = [(f"{where}.{name}", head.get(name)) for name in fields if name in head]
    outside = [("ebpCode", ebp_code or None), *((name, value or None) for name, value in (envelope or {}).items())]

    def fine(path: str, value: object) -> bool:
        if no_platform and value == NO_PLATFORM and path.rpartition(".")[2] == "ebpCode":
            return True
        return isinstance(value, str) and len(value) <= 60 and bool(_KEY.fullmatch(value))

    return [
        CebError(KEY_CHARACTERS, path, "business key characters",
                 f"{path.rpartition('.')[2]} may hold only ASCII letters, digits, '-', '_' and '.' (at most "
                 "60), starting with a letter or digit" + (f", or be {NO_PLATFORM}" if no_platform and
                                                           path.endswith("ebpCode") else ""))
        for path, value in [*named, *outside]
        if value is not None and not fine(path, value)
    ]

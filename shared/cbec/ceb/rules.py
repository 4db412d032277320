"""Business rules (ceb-formats §8.A, §8.B limits) as a second validation layer.

``validate_business(msg, related)`` assumes a structurally valid message (run
``validate_structure`` first; a rule skips a value it cannot read). Rules that span documents
(order vs payment amount, order vs waybill consignee, order vs list lines, return vs original
list …) take the other documents through :class:`RelatedDocs`; without them they are skipped.
Each finding carries the customs error code where customs has one (error-codes.csv), else a
``CBEC-…`` code, and names the document by index and business key.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from cbec.ceb import export_rules
from cbec.ceb.compiled import CRoot, root_for
from cbec.ceb.model import CebMessage
from cbec.ceb.structure import business_key, key_label
from cbec.errors import CebError

SINGLE_LIMIT = Decimal("5000")
"""Single-transaction limit in CNY (财关税〔2018〕49号; customs code -621005)."""
ANNUAL_LIMIT = Decimal("26000")
"""Annual limit per buyer in CNY (customs code -621018)."""

_FEN = Decimal("0.01")
_N5 = Decimal("0.00001")

# Documents per message above which customs answers with its own "too many" code.
_BATCH_CODES = {
    "CEB311": "-301015", "CEB411": "-401013", "CEB511": "-504013", "CEB513": "-505013",
    "CEB621": "-621030", "CEB623": "-623008",
}  # fmt: skip
# appStatus 2 without a signature: the customs "signature information is empty" codes.
_SIGNATURE_CODES = {"CEB621": "-621026", "CEB623": "-623017", "CEB625": "-625028", "CEB711": "CBEC-SIGNATURE"}
# A change (appType 2) to a document whose list was already declared.
_LOCKED_CODES = {"CEB311": "-301011", "CEB411": "-401008", "CEB511": "-504016"}
# A message older than the stored one.
_STALE_CODES = {"CEB311": "-301014", "CEB411": "-401012", "CEB511": "-505016", "CEB513": "-505016",
                "CEB711": "-800005"}  # fmt: skip
# List states that allow a cancel (623) / a return (625). UNVERIFIED practice rule (ceb-formats §8.B).
CANCEL_STATES = frozenset({"800"})
RETURN_STATES = frozenset({"800", "899"})


@dataclass
class RelatedDocs:
    """Other documents (and stored facts) that cross-document rules compare against.

    Documents are in the model's shape: ``orders`` hold ``Order`` docs (OrderHead + OrderList),
    ``payments`` ``{"PaymentHead": …}``, ``waybills`` ``{"LogisticsHead": …}``, ``inventories``
    ``Inventory`` docs (lists already declared). ``list_status`` maps invtNo → latest receipt
    returnStatus; ``stored_app_time`` maps a document's business key (``orderNo=…``) → the appTime
    of the version customs already has; ``annual_used`` maps buyerIdNumber → CNY used this year;
    ``certificate_code`` is the enterprise code in the signing certificate.
    """

    orders: list[dict[str, Any]] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)
    waybills: list[dict[str, Any]] = field(default_factory=list)
    inventories: list[dict[str, Any]] = field(default_factory=list)
    list_status: dict[str, str] = field(default_factory=dict)
    stored_app_time: dict[str, str] = field(default_factory=dict)
    annual_used: dict[str, Decimal] = field(default_factory=dict)
    certificate_code: str | None = None

    @classmethod
    def of(cls, *messages: CebMessage, **facts: Any) -> RelatedDocs:
        """Collect the documents of CEB311/411/511/621 messages."""
        rel = cls(**facts)
        slots = {
            "CEB311": rel.orders,
            "CEB411": rel.payments,
            "CEB511": rel.waybills,
            "CEB621": rel.inventories,
        }
        for m in messages:
            if m.type in slots:
                slots[m.type].extend(m.docs)
        return rel


def _dec(v: Any) -> Decimal | None:
    if not isinstance(v, str):
        return None
    try:
        d = Decimal(v)  # strips surrounding whitespace itself, as str.strip() does
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def _same_amount(a: Decimal, b: Decimal) -> bool:
    """Equal to the field's 5 decimals, or to the fen when one side was rounded to 2."""
    return (
        a == b
        or a.quantize(_N5, ROUND_HALF_UP) == b.quantize(_N5, ROUND_HALF_UP)
        or (a.quantize(_FEN, ROUND_HALF_UP) == b.quantize(_FEN, ROUND_HALF_UP))
    )


def _head(doc: dict[str, Any]) -> dict[str, Any]:
    """The head dict of a document (``OrderHead`` …), or the flat document itself."""
    for key, value in doc.items():
        if key.endswith("Head") and isinstance(value, dict):
            return value
    return doc


def _lines(doc: dict[str, Any]) -> list[dict[str, Any]]:
    for key, value in doc.items():
        if key.endswith("List") and isinstance(value, list):
            return [x for x in value if isinstance(x, dict)]
    return []


def _lines_name(doc: dict[str, Any]) -> str:
    return next((k for k, v in doc.items() if k.endswith("List") and isinstance(v, list)), "List")


def _head_name(doc: dict[str, Any]) -> str:
    return next((k for k, v in doc.items() if k.endswith("Head") and isinstance(v, dict)), "")


_View = tuple[dict[str, Any], list[dict[str, Any]], str, str]


def _view_of(doc: dict[str, Any]) -> _View:
    """(``_head``, ``_lines``, ``_lines_name``, ``_head_name``) of ``doc`` in one pass."""
    head: dict[str, Any] | None = None
    lines: list[dict[str, Any]] | None = None
    head_name, lines_name = "", "List"
    for key, value in doc.items():
        if head is None and key.endswith("Head") and isinstance(value, dict):
            head, head_name = value, key
        elif lines is None and key.endswith("List") and isinstance(value, list):
            lines, lines_name = [x for x in value if isinstance(x, dict)], key
    return (doc if head is None else head), ([] if lines is None else lines), lines_name, head_name


def _find(docs: Iterable[dict[str, Any]], **keys: Any) -> dict[str, Any] | None:
    for doc in docs:
        head = _head(doc)
        if all(head.get(k) == v for k, v in keys.items() if v is not None):
            return doc
    return None


_UNSEEN: Any = object()


class _Check:
    """Collects findings for one document, naming it by index and business key."""

    def __init__(self, msg: CebMessage) -> None:
        self.msg = msg
        self.errors: list[CebError] = []
        self.doc_path = ""
        self.doc: dict[str, Any] | None = None
        self._views: dict[int, _View] = {}
        self._decs: dict[Any, Decimal | None] = {}

    def at(self, doc_name: str, index: int, doc: dict[str, Any] | None) -> None:
        self.doc_path = f"{doc_name}[{index}]" if index else doc_name
        self.doc = doc

    def add(self, code: str, field_path: str, rule: str, message: str) -> None:
        field_path = field_path.lstrip(".")
        path = f"{self.doc_path}.{field_path}" if field_path else self.doc_path
        key = key_label(self.doc) if self.doc is not None else ""  # only on a finding: it is not cheap
        where = f" ({self.doc_path} {key})" if key else ""
        self.errors.append(CebError(code, path, rule, message + where))

    def view(self, doc: dict[str, Any]) -> _View:
        """(head, lines, lines name, head name) of ``doc``, computed once per validation."""
        view = self._views.get(id(doc))
        if view is None:
            view = self._views[id(doc)] = _view_of(doc)
        return view

    def head(self, doc: dict[str, Any]) -> dict[str, Any]:
        return self.view(doc)[0]

    def lines(self, doc: dict[str, Any]) -> list[dict[str, Any]]:
        return self.view(doc)[1]

    def ln(self, doc: dict[str, Any]) -> str:
        return self.view(doc)[2]

    def decs(self, values: Iterable[Any]) -> list[Decimal] | None:
        """All values as Decimals, or None when one is not a number."""
        out = []
        memo = self._decs
        for v in values:
            d = memo.get(v, _UNSEEN) if isinstance(v, str) else None
            if d is _UNSEEN:
                d = memo[v] = _dec(v)
            if d is None:
                return None
            out.append(d)
        return out

    def dec(self, v: Any) -> Decimal | None:
        """``_dec`` memoized for this validation (the same amounts feed several rules)."""
        if not isinstance(v, str):  # not a number (and perhaps unhashable)
            return None
        d = self._decs.get(v, _UNSEEN)
        if d is _UNSEEN:
            d = self._decs[v] = _dec(v)
        return d  # type: ignore[no-any-return]


def _rule_amounts(c: _Check, doc: dict[str, Any], hp: str, is_import: bool) -> None:
    """§8.A.1–3: acturalPaid = goodsValue + freight + taxTotal − discount; goodsValue = Σ lines;
    each line's totalPrice = price × qty."""
    head = c.head(doc)
    lines = c.lines(doc)
    ln = c.ln(doc)
    for i, line in enumerate(lines, 1):
        price, qty, total = c.dec(line.get("price")), c.dec(line.get("qty")), c.dec(line.get("totalPrice"))
        if price is not None and qty is not None and total is not None and not _same_amount(price * qty, total):
            c.add(
                "CBEC-TOTAL-PRICE",
                f"{ln}[{i}].totalPrice",
                "§8.A.2 totalPrice = price × qty",
                f"totalPrice {total} is not price {price} × qty {qty} = {price * qty}",
            )
    if "acturalPaid" in head:
        get = head.get
        parts = c.decs((get("goodsValue"), get("freight"), get("taxTotal"), get("discount"), get("acturalPaid")))
        if parts is not None:
            goods, freight, tax, discount, paid = parts
            expected = goods + freight + tax - discount
            if not _same_amount(expected, paid):
                c.add(
                    "CBEC-ACTURAL-PAID",
                    f"{hp}.acturalPaid",
                    "§8.A.1 acturalPaid = goodsValue + freight + taxTotal − discount",
                    f"acturalPaid {paid} ≠ {goods} + {freight} + {tax} − {discount} = {expected}",
                )
    goods_value = c.dec(head.get("goodsValue"))
    totals = c.decs([x.get("totalPrice") for x in lines])
    if is_import and goods_value is not None and lines and totals is not None:
        s = sum(totals, Decimal(0))
        if not _same_amount(s, goods_value):
            c.add(
                "CBEC-GOODS-VALUE",
                f"{hp}.goodsValue",
                "§8.A.3 goodsValue = Σ line totalPrice (incl. non-cash deductions)",
                f"goodsValue {goods_value} ≠ sum of line totalPrice {s}",
            )


def _rule_currency(c: _Check, doc: dict[str, Any], hp: str) -> None:
    """§8.A.4: every import currency is 142 (only where the XSD does not already fix it)."""
    head = c.head(doc)
    if head.get("currency") not in (None, "142"):
        c.add(
            "CBEC-CURRENCY",
            f"{hp}.currency",
            "§8.A.4 import currency 142",
            f"currency must be 142 (CNY) on import, got {head['currency']!r}",
        )
    for i, line in enumerate(c.lines(doc), 1):
        if line.get("currency") not in (None, "142"):
            c.add(
                "CBEC-CURRENCY",
                f"{c.ln(doc)}[{i}].currency",
                "§8.A.4 import currency 142",
                f"currency must be 142 (CNY) on import, got {line['currency']!r}",
            )


def _rule_id_type(c: _Check, head: dict[str, Any], hp: str) -> None:
    """§8.A.5: buyerIdType / payerIdType are 1 (ID card)."""
    for name in ("buyerIdType", "payerIdType"):
        if name in head and head[name] != "1":
            c.add(
                "CBEC-ID-TYPE",
                f"{hp}.{name}",
                "§8.A.5 ID type 1",
                f"{name} must be 1 (身份证), got {head[name]!r}",
            )


def _rule_gnum(c: _Check, doc: dict[str, Any], dup_code: str, *, sequential: bool = True) -> None:
    """§8.A.14: no duplicate gnum; orders and lists number their lines 1, 2, 3 … (returns reuse
    the original list's numbers, so only uniqueness applies to them)."""
    ln = c.ln(doc)
    seen: set[str] = set()
    for i, line in enumerate(c.lines(doc), 1):
        g = line.get("gnum")
        if g in seen:
            c.add(dup_code, f"{ln}[{i}].gnum", "§8.A.14 gnum unique", f"gnum {g} is repeated")
        elif isinstance(g, str):
            seen.add(g)
            if sequential and g.strip() != str(i):
                c.add(
                    "CBEC-GNUM-SEQ",
                    f"{ln}[{i}].gnum",
                    "§8.A.14 gnum 1..n",
                    f"gnum must number lines from 1 without gaps: expected {i}, got {g}",
                )


def _rule_pack_no(c: _Check, head: dict[str, Any], hp: str) -> None:
    """§8.A.12: packNo is 1 on the waybill and the list."""
    if "packNo" in head and head["packNo"].strip() != "1":
        c.add("CBEC-PACK-NO", f"{hp}.packNo", "§8.A.12 packNo 1", f"packNo must be 1, got {head['packNo']!r}")


def _rule_qty2(c: _Check, doc: dict[str, Any], code: str) -> None:
    """§8.A.17: qty2/unit2 both empty, or unit2 set and qty2 > 0."""
    ln = c.ln(doc)
    for i, line in enumerate(c.lines(doc), 1):
        if "qty2" not in line and "unit2" not in line:
            continue
        unit2 = (line.get("unit2") or "").strip()
        qty2_text = (line.get("qty2") or "").strip()
        qty2 = c.dec(qty2_text)
        if not unit2 and not qty2_text:
            continue
        if not unit2 or qty2 is None or qty2 <= 0:
            c.add(
                code,
                f"{ln}[{i}].qty2",
                "§8.A.17 qty2/unit2",
                f"second quantity/unit: both empty, or unit2 set and qty2 > 0 (unit2={unit2!r}, qty2={qty2_text!r})",
            )


def _rule_trade_mode(c: _Check, doc: dict[str, Any], hp: str) -> None:
    """§8.A.18/19: 1210 needs emsNo/areaCode/areaName/itemRecordNo and country 142;
    9610 needs trafNo/voyageNo/billNo."""
    head = c.head(doc)
    mode = head.get("tradeMode")
    if mode == "1210":
        for name in ("emsNo", "areaCode", "areaName"):
            if not head.get(name):
                c.add("CBEC-1210", f"{hp}.{name}", "§8.A.18 1210 bonded fields", f"1210 (保税) requires {name}")
        if head.get("country") != "142":
            c.add(
                "CBEC-1210",
                f"{hp}.country",
                "§8.A.18 1210 country 142",
                f"1210 (保税) requires country 142, got {head.get('country')!r}",
            )
        for i, line in enumerate(c.lines(doc), 1):
            if not line.get("itemRecordNo"):
                c.add(
                    "CBEC-1210",
                    f"{c.ln(doc)}[{i}].itemRecordNo",
                    "§8.A.18 1210 bonded fields",
                    "1210 (保税) requires itemRecordNo on every line",
                )
    elif mode == "9610":
        for name in ("trafNo", "voyageNo", "billNo"):
            if not head.get(name):
                c.add(
                    "CBEC-9610",
                    f"{hp}.{name}",
                    "§8.A.19 9610 transport fields",
                    f"9610 (直购) requires {name}",
                )


def _rule_assure(c: _Check, head: dict[str, Any], hp: str) -> None:
    """§8.A.7: assureCode is the ebp, ebc or logistics company (spec) or the declarer (XSD doc)."""
    code = head.get("assureCode")
    allowed = {head.get(k) for k in ("ebpCode", "ebcCode", "logisticsCode", "agentCode")} - {None}
    if code is not None and code not in allowed:
        c.add(
            "CBEC-ASSURE",
            f"{hp}.assureCode",
            "§8.A.7 assureCode party",
            f"assureCode {code} is none of the list's ebpCode/ebcCode/logisticsCode/agentCode",
        )


def _rule_signature(c: _Check, head: dict[str, Any], hp: str, msg: CebMessage, before_signing: bool) -> None:
    """§8.A.20: appStatus 2 (申报) requires ds:Signature on 621/623/625/711."""
    if msg.type in _SIGNATURE_CODES and head.get("appStatus") == "2" and msg.signature is None and not before_signing:
        c.add(
            _SIGNATURE_CODES[msg.type],
            f"{hp}.appStatus",
            "§8.A.20 appStatus 2 needs signature",
            f"appStatus 2 (申报) requires ds:Signature on {msg.type}",
        )


def _order_amount(c: _Check, head: dict[str, Any]) -> Decimal | None:
    """The order's transaction value for the limit: goods + freight − non-cash deductions (no tax)."""
    parts = c.decs((head.get("goodsValue"), head.get("freight"), head.get("discount")))
    return None if parts is None else parts[0] + parts[1] - parts[2]


def _list_amount(c: _Check, doc: dict[str, Any]) -> Decimal | None:
    """The list's transaction value for the limit: Σ line totalPrice + freight + insuredFee."""
    head = c.head(doc)
    amounts = c.decs(
        [x.get("totalPrice") for x in c.lines(doc)] + [head.get(k) or "0" for k in ("freight", "insuredFee")]
    )
    return None if amounts is None else sum(amounts, Decimal(0))


def _rule_limits(c: _Check, doc: dict[str, Any], hp: str, msg: CebMessage, related: RelatedDocs | None) -> None:
    """§8.B: single transaction ≤ ¥5,000 (-621005); buyer's annual total ≤ ¥26,000 (-621018)."""
    head = c.head(doc)
    amount = _order_amount(c, head) if msg.type == "CEB311" else _list_amount(c, doc)
    if amount is None:
        return
    if amount > SINGLE_LIMIT:
        c.add(
            "-621005",
            f"{hp}",
            "§8.B single-transaction limit",
            f"purchase amount {amount} exceeds the single-transaction limit {SINGLE_LIMIT}",
        )
    buyer = head.get("buyerIdNumber")
    if msg.type == "CEB621" and related is not None and buyer in related.annual_used:
        used = related.annual_used[buyer]
        if used + amount > ANNUAL_LIMIT:
            c.add(
                "-621018",
                f"{hp}",
                "§8.B annual limit",
                f"buyer has used {used}; this purchase ({amount}) exceeds the annual limit {ANNUAL_LIMIT}",
            )


def _rule_cross(c: _Check, doc: dict[str, Any], hp: str, msg: CebMessage, related: RelatedDocs) -> None:
    """§8.A.1/6/15/16 and §8.A.21–23: rules against the related documents."""
    head = c.head(doc)
    order_no, ebp = head.get("orderNo"), head.get("ebpCode")
    t = msg.type
    if t in ("CEB311", "CEB411"):
        order = doc if t == "CEB311" else _find(related.orders, orderNo=order_no, ebpCode=ebp)
        pay = doc if t == "CEB411" else _find(related.payments, orderNo=order_no, ebpCode=ebp)
        if order is not None and pay is not None:
            paid, amount = c.dec(_head(order).get("acturalPaid")), c.dec(_head(pay).get("amountPaid"))
            if paid is not None and amount is not None and not _same_amount(paid, amount):
                field_name = "acturalPaid" if t == "CEB311" else "amountPaid"
                c.add(
                    "CBEC-PAYMENT-AMOUNT",
                    f"{hp}.{field_name}",
                    "§8.A.1 acturalPaid = payment amountPaid",
                    f"order acturalPaid {paid} ≠ payment amountPaid {amount}",
                )
    if t in ("CEB311", "CEB511"):
        order = doc if t == "CEB311" else _find(related.orders, orderNo=order_no)
        bill = doc if t == "CEB511" else _find(related.waybills, orderNo=order_no)
        if order is not None and bill is not None:
            oh, bh = _head(order), _head(bill)
            for name in ("consignee", "consigneeTelephone", "consigneeAddress"):
                if oh.get(name) != bh.get(name):
                    c.add(
                        "CBEC-CONSIGNEE",
                        f"{hp}.{name}",
                        "§8.A.6 order consignee = waybill",
                        f"order and waybill {name} differ",
                    )  # values are personal data: not echoed
    if t == "CEB621":
        order = _find(related.orders, orderNo=order_no, ebpCode=ebp, ebcCode=head.get("ebcCode"))
        if order is not None:
            _rule_list_vs_order(c, doc, order)
        if related.waybills:
            bill = _find(related.waybills, logisticsNo=head.get("logisticsNo"), logisticsCode=head.get("logisticsCode"))
            if bill is None or _head(bill).get("orderNo") != order_no:
                c.add(
                    "-621002",
                    f"{hp}.logisticsNo",
                    "§8.C list ↔ waybill",
                    f"no waybill {head.get('logisticsNo')} of {head.get('logisticsCode')} for order {order_no}",
                )
    if t == "CEB625":
        _rule_refund_vs_list(c, doc, hp, related)
    if t in ("CEB623", "CEB625") and related.list_status:
        invt = head.get("invtNo")
        status = related.list_status.get(invt or "")
        if status is None:
            c.add(
                "-623003" if t == "CEB623" else "CBEC-LIST-NOT-FOUND",
                f"{hp}.invtNo",
                "§8.A.22 list exists",
                f"no list with invtNo {invt}",
            )
        elif status not in (CANCEL_STATES if t == "CEB623" else RETURN_STATES):
            c.add(
                "-623005" if t == "CEB623" else "CBEC-LIST-STATE",
                f"{hp}.invtNo",
                "§8.A.22 list state allows cancel/return",
                f"list {invt} is in state {status}",
            )
    if t in _LOCKED_CODES and head.get("appType") == "2" and _find(related.inventories, orderNo=order_no):
        c.add(
            _LOCKED_CODES[t],
            f"{hp}.appType",
            "§8.A.21 no change after list declaration",
            f"the list for order {order_no} is declared; this document can no longer change",
        )
    stored = related.stored_app_time.get(business_key(doc)) if related.stored_app_time else None
    if t in _STALE_CODES and stored is not None and isinstance(head.get("appTime"), str) and head["appTime"] <= stored:
        c.add(
            _STALE_CODES[t],
            f"{hp}.appTime",
            "§8.A.23 newer appTime",
            f"appTime {head['appTime']} is not newer than the stored {stored}; customs ignores it",
        )


def _rule_list_vs_order(c: _Check, inv: dict[str, Any], order: dict[str, Any]) -> None:
    """§8.A.15: list gnum 1:1 with the order's, gname = the order line's itemName."""
    order_lines = {x.get("gnum"): x for x in _lines(order)}
    ln = c.ln(inv)
    seen = set()
    for i, line in enumerate(c.lines(inv), 1):
        g = line.get("gnum")
        seen.add(g)
        match = order_lines.get(g)
        if match is None:
            c.add(
                "CBEC-LIST-GNUM",
                f"{ln}[{i}].gnum",
                "§8.A.15 list gnum 1:1 with order",
                f"order has no line gnum {g}",
            )
        elif line.get("gname") != match.get("itemName"):
            c.add(
                "CBEC-LIST-GNAME",
                f"{ln}[{i}].gname",
                "§8.A.15 list gname = order itemName",
                f"gname {line.get('gname')!r} ≠ order itemName {match.get('itemName')!r}",
            )
    for g in order_lines:
        if g not in seen:
            c.add(
                "CBEC-LIST-GNUM",
                f"{ln}",
                "§8.A.15 list gnum 1:1 with order",
                f"order line gnum {g} is not on the list",
            )


def _rule_refund_vs_list(c: _Check, doc: dict[str, Any], hp: str, related: RelatedDocs) -> None:
    """§8.A.16: a return names original list items (-625209) and returns at most their qty."""
    head = c.head(doc)
    original = _find(related.inventories, invtNo=head.get("invtNo"))
    if original is None:
        return
    by_gnum = {x.get("gnum"): x for x in _lines(original)}
    ln = c.ln(doc)
    for i, line in enumerate(c.lines(doc), 1):
        orig = by_gnum.get(line.get("gnum"))
        if orig is None or orig.get("gcode") != line.get("gcode"):
            c.add(
                "-625209",
                f"{ln}[{i}].gnum",
                "§8.A.16 item of the original list",
                f"original list {head.get('invtNo')} has no item gnum {line.get('gnum')} gcode {line.get('gcode')}",
            )
            continue
        if line.get("gname") != orig.get("gname"):
            c.add(
                "CBEC-REFUND-GNAME",
                f"{ln}[{i}].gname",
                "§8.A.16 gname = original list",
                f"gname {line.get('gname')!r} ≠ original {orig.get('gname')!r}",
            )
        q, oq = c.dec(line.get("qty")), c.dec(orig.get("qty"))
        if q is not None and oq is not None and q > oq:
            c.add(
                "CBEC-REFUND-QTY",
                f"{ln}[{i}].qty",
                "§8.A.16 qty ≤ original",
                f"qty {q} exceeds the original {oq}",
            )


def _rule_batch(c: _Check, msg: CebMessage, croot: CRoot) -> None:
    """§8.A.10/11/13: ≤100 documents, ≤99 lines; orderNo unique per platform, logisticsNo per carrier."""
    limit = croot.doc.max_occurs
    if msg.type in _BATCH_CODES and limit != -1 and len(msg.docs) > limit:
        c.at(croot.doc.name, 0, None)
        c.add(
            _BATCH_CODES[msg.type],
            "",
            "§8.A.13 ≤100 documents",
            f"{len(msg.docs)} documents; a message holds at most {limit}",
        )
    keys: dict[tuple[Any, ...], int] = {}
    for i, doc in enumerate(msg.docs, 1):
        if not isinstance(doc, dict):
            continue
        head = c.head(doc)
        if croot.kind == "import" and len(c.lines(doc)) > 99:  # export lists allow 100 (XSD)
            c.at(croot.doc.name, i, doc)
            c.add(
                "-621030" if msg.type == "CEB621" else "CBEC-LINES",
                c.ln(doc),
                "§8.A.13 ≤99 lines",
                f"{len(c.lines(doc))} lines; a document holds at most 99",
            )
        if msg.type in ("CEB311", "CEB303"):
            k: tuple[Any, ...] = ("orderNo", head.get("ebpCode"), head.get("orderNo"))
            code = "-301010"
        elif msg.type in ("CEB511", "CEB505"):
            k, code = ("logisticsNo", head.get("logisticsCode"), head.get("logisticsNo")), "-504015"
        else:
            continue
        if k in keys:
            c.at(croot.doc.name, i, doc)
            c.add(
                code,
                f"{_head_name(doc) or ''}.{k[0]}".lstrip("."),
                "§8.A.10/11 unique number",
                f"{k[0]} {k[2]} repeats document {keys[k]} of this message",
            )
        else:
            keys[k] = i


def validate_business(
    msg: CebMessage, related: RelatedDocs | None = None, *, before_signing: bool = False
) -> list[CebError]:
    """Every business-rule finding for ``msg`` (§8.A; cross-document rules need ``related``).

    ``before_signing=True`` skips the signature-presence rule for a message about to be signed.
    """
    try:
        croot = root_for(msg.type)
    except KeyError:
        return [CebError("CBEC-ROOT", "/", "XSD root", f"unknown message type {msg.type!r}")]
    c = _Check(msg)
    is_import = croot.kind == "import"
    doc_name = croot.doc.name
    for i, doc in enumerate(msg.docs, 1):
        if not isinstance(doc, dict):
            continue
        c.at(doc_name, i, doc)
        head, _, _, fp = c.view(doc)
        _rule_amounts(c, doc, fp, is_import)
        if is_import:
            _rule_currency(c, doc, fp)
            _rule_id_type(c, head, fp)
            export_rules.check_import_codes(head, fp, c.lines(doc), c.ln(doc), c.add)
        t = msg.type
        if t in ("CEB311", "CEB621"):
            _rule_gnum(c, doc, "-301002" if t == "CEB311" else "-621027")
        elif t == "CEB625":
            _rule_gnum(c, doc, "CBEC-GNUM-DUP", sequential=False)
        if t in ("CEB511", "CEB621"):
            _rule_pack_no(c, head, fp)
        if t in ("CEB621", "CEB625", "CEB603", "CEB213"):
            _rule_qty2(c, doc, "-625009" if t in ("CEB625", "CEB213") else "CBEC-QTY2")
        if t == "CEB621":
            _rule_trade_mode(c, doc, fp)
            _rule_assure(c, head, fp)
        if t in ("CEB311", "CEB621"):
            _rule_limits(c, doc, fp, msg, related)
        _rule_signature(c, head, fp, msg, before_signing)
        if not is_import:
            export_rules.check(t, doc, head, fp, c.lines(doc), c.ln(doc), c.add)
        if related is not None:
            _rule_cross(c, doc, fp, msg, related)
            if t == "CEB625" and related.certificate_code and head.get("agentCode") != related.certificate_code:
                c.add(
                    "-625013",
                    f"{fp}.agentCode",
                    "§8.A.8 declarer = certificate holder",
                    "agentCode differs from the enterprise code in the signing certificate",
                )
    if related is not None and related.certificate_code and msg.base_transfer is not None:
        if msg.base_transfer.get("copCode") != related.certificate_code:
            c.at("BaseTransfer", 0, None)
            c.add(
                "CBEC-COP-CODE",
                "copCode",
                "§8.A.8 copCode = client identity",
                f"copCode {msg.base_transfer.get('copCode')} is not the connecting enterprise"
                f" {related.certificate_code}",
            )
    _rule_batch(c, msg, croot)
    return c.errors

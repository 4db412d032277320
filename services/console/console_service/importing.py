"""Batch import: templates per document type, reading ``.xlsx``/CSV sheets, building documents from rows
(presets fill the defaults) and validating every row with the CEB core, each finding placed on its cell.

A template is a flat sheet: one row per line of goods for orders (rows with the same order number make
one order) and export lists (the same copNo), one row per waybill for the 运抵单 and 离境单 (the same copNo),
one row per document otherwise. Every cell is text (the template's cells are formatted as text, so
``00123`` stays ``00123``); numbers keep at most the decimals the CEB XSD allows. A sheet may carry the
Chinese headers or the English ones (the template downloaded with ``?headers=en``).

Each document is checked as its entry form checks it (:func:`findings`): the command's own fields, the
strategy applied as the services apply it, then the CEB core's rules.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from cbec.declaration.doctypes import BY_CODE
from cbec.declaration.strategies import PRESETS
from cbec.tenants import Tenant, TenantRegistry
from openpyxl import Workbook, load_workbook

from console_service import export_templates, roles
from console_service.checks import core_findings
from console_service.sheet_templates import Column, Template

__all__ = ["TEMPLATES", "BadSheet", "Built", "Column", "Row", "Template", "read_sheet", "template_csv",
           "template_workbook", "validate_rows"]

MAX_ROWS = 2000
MAX_BYTES = 5 * 1024 * 1024
MAX_UNPACKED = 50 * 1024 * 1024  # what an .xlsx (a zip) may unpack to: a zip bomb is refused before it is read
MAX_COLUMNS = 200  # columns read per row (every template has fewer): a sheet 16,384 wide is read this wide
MAX_CELL = 10_000  # characters a CSV cell may hold (csv's own limit is 131,072, beyond it an error)


def _order_preset(tenant: Tenant) -> dict[str, str]:
    return {"orderType": "I", "ebpCode": tenant.customs_code, "ebpName": tenant.name,
            "ebcCode": tenant.customs_code, "ebcName": tenant.name, "discount": "0", "taxTotal": "0",
            "currency": "142", "buyerIdType": "1"}


def _order_derive(document: dict[str, Any]) -> None:
    head, lines = document["OrderHead"], document["OrderList"]
    goods = Decimal(0)
    for n, line in enumerate(lines, start=1):
        line["gnum"] = str(n)
        line.setdefault("currency", "142")
        try:
            goods += Decimal(line.get("totalPrice", "0"))
        except InvalidOperation:
            pass
    try:
        paid = goods + Decimal(head.get("freight") or "0") + Decimal(head.get("taxTotal") or "0") \
            - Decimal(head.get("discount") or "0")
    except InvalidOperation:
        paid = goods
    head["goodsValue"], head["acturalPaid"] = f"{goods:.2f}", f"{paid:.2f}"
    head.setdefault("buyerRegNo", head.get("buyerTelephone", ""))


def _export_order_preset(tenant: Tenant) -> dict[str, str]:
    return {"ebpCode": tenant.customs_code, "ebpName": tenant.name, "ebcCode": tenant.customs_code,
            "ebcName": tenant.name, "freight": "0", "currency": "142"}


def _export_order_derive(document: dict[str, Any]) -> None:
    head, lines = document["OrderHead"], document["OrderList"]
    goods = Decimal(0)
    for n, line in enumerate(lines, start=1):
        line["gnum"] = str(n)
        line.setdefault("currency", head.get("currency", "142"))
        try:
            goods += Decimal(line.get("totalPrice", "0"))
        except InvalidOperation:
            pass
    head["goodsValue"] = f"{goods:.2f}"


def strategy_defaults(template: Template, tenant: Tenant) -> dict[str, str]:
    """What the batch's strategy (else the enterprise's default strategy, else 9610 B2C) fills: the
    export order's type (E, B, W), as the order service applies the same preset."""
    if template.doc_type != "CEB303":
        return {}
    name = template.strategy or tenant.strategy
    return {"orderType": PRESETS[name].order_type if name in PRESETS else "E"}


TEMPLATES: dict[str, Template] = {
    "CEB311": Template(
        "CEB311",
        (
            Column("订单号", "Order number", "Head.orderNo"),
            Column("商品货号", "Item number", "List.itemNo"),
            Column("商品名称", "Item name", "List.itemName"),
            Column("规格型号", "Model / specification", "List.gmodel"),
            Column("数量", "Quantity", "List.qty", decimals=5),
            Column("总额", "Total", "List.totalPrice", decimals=2),
            Column("单价", "Unit price", "List.price", decimals=5),
            Column("计量单位", "Unit of measure", "List.unit"),
            Column("原产国", "Country of origin", "List.country"),
            Column("运费", "Freight", "Head.freight", decimals=5),
            Column("订购人姓名", "Buyer name", "Head.buyerName"),
            Column("订购人证件号码", "Buyer ID number", "Head.buyerIdNumber"),
            Column("订购人电话", "Buyer telephone", "Head.buyerTelephone"),
            Column("支付企业代码", "Payment enterprise code", "Head.payCode"),
            Column("支付企业名称", "Payment enterprise name", "Head.payName"),
            Column("支付交易编号", "Payment transaction number", "Head.payTransactionId"),
            Column("收货人", "Consignee", "Head.consignee"),
            Column("收货人电话", "Consignee telephone", "Head.consigneeTelephone"),
            Column("收货地址", "Consignee address", "Head.consigneeAddress"),
        ),
        head="OrderHead", lines="OrderList", group_by="orderNo", preset=_order_preset, derive=_order_derive,
    ),
    "CEB303": Template(  # seed 003's export-order template, column for column
        "CEB303",
        (
            Column("订单号", "Order number", "Head.orderNo"),
            Column("商品货号", "Item number", "List.itemNo"),
            Column("商品名称", "Item name", "List.itemName"),
            Column("数量", "Quantity", "List.qty", decimals=5),
            Column("总额", "Total", "List.totalPrice", decimals=2),
            Column("单价", "Unit price", "List.price", decimals=5),
            Column("计量单位", "Unit of measure", "List.unit"),
        ),
        head="OrderHead", lines="OrderList", group_by="orderNo", preset=_export_order_preset,
        derive=_export_order_derive, strategies=True,
    ),
    "CEB411": Template(
        "CEB411",
        (
            Column("订单号", "Order number", "Head.orderNo"),
            Column("支付交易编号", "Payment transaction number", "Head.payTransactionId"),
            Column("电商平台代码", "Platform code", "Head.ebpCode"),
            Column("电商平台名称", "Platform name", "Head.ebpName"),
            Column("支付金额", "Amount paid", "Head.amountPaid", decimals=5),
            Column("支付人姓名", "Payer name", "Head.payerName"),
            Column("支付人证件号码", "Payer ID number", "Head.payerIdNumber"),
            Column("支付时间", "Payment time (yyyyMMddHHmmss)", "Head.payTime"),
        ),
        head="PaymentHead",
        preset=lambda t: {"payCode": t.customs_code, "payName": t.name, "payerIdType": "1", "currency": "142"},
    ),
    "CEB511": Template(
        "CEB511",
        (
            Column("物流运单编号", "Waybill number", "Head.logisticsNo"),
            Column("订单号", "Order number", "Head.orderNo"),
            Column("电商平台代码", "Platform code", "Command.ebpCode"),
            Column("提运单号", "Bill of lading", "Head.billNo", required=False),
            Column("运费", "Freight", "Head.freight", decimals=5),
            Column("毛重", "Gross weight (kg)", "Head.weight", decimals=5),
            Column("件数", "Packages", "Head.packNo", decimals=0),
            Column("收货人", "Consignee", "Head.consignee"),
            Column("收货人电话", "Consignee telephone", "Head.consigneeTelephone"),
            Column("收货地址", "Consignee address", "Head.consigneeAddress"),
        ),
        head="LogisticsHead",
        preset=lambda t: {"logisticsCode": t.customs_code, "logisticsName": t.name, "insuredFee": "0",
                          "currency": "142"},
    ),
    **export_templates.TEMPLATES,  # 收款单, export waybill, export list, 运抵单, 离境单
}


@dataclass
class Row:
    number: int  # the sheet's row number (the header is row 1)
    cells: dict[str, str]  # header -> text
    errors: dict[str, list[str]] = field(default_factory=dict)  # header ("" for the row) -> messages
    dropped: bool = False

    def error_count(self) -> int:
        return sum(len(m) for m in self.errors.values())


class BadSheet(ValueError):
    """The upload is not a sheet this template can read."""


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _unpacked_size(data: bytes) -> None:
    """Refuse an .xlsx whose parts unpack to more than MAX_UNPACKED (the zip's own sizes; a part lying about
    its size fails its CRC when openpyxl reads it)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as book:
            unpacked = sum(info.file_size for info in book.infolist())
    except (zipfile.BadZipFile, ValueError, OSError):
        raise BadSheet("not an .xlsx workbook") from None
    if unpacked > MAX_UNPACKED:
        raise BadSheet(f"the workbook unpacks to more than {MAX_UNPACKED // (1024 * 1024)} MiB")


def read_sheet(template: Template, filename: str, data: bytes) -> list[Row]:
    """The rows of an ``.xlsx`` or CSV upload, by the template's headers (other columns are ignored)."""
    if len(data) > MAX_BYTES:
        raise BadSheet(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    if filename.lower().endswith(".xlsx"):
        _unpacked_size(data)
        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            sheet = book.worksheets[0]
            table = [[_text(v) for v in row]
                     for row in sheet.iter_rows(values_only=True, max_row=MAX_ROWS + 2, max_col=MAX_COLUMNS)]
            book.close()
        except Exception as error:  # openpyxl raises many kinds for a file that is not a workbook
            raise BadSheet("not an .xlsx workbook") from error
    elif filename.lower().endswith(".csv"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise BadSheet("a CSV file must be UTF-8") from None
        try:
            table = [[cell.strip() for cell in row[:MAX_COLUMNS]]
                     for row in itertools.islice(csv.reader(io.StringIO(text)), MAX_ROWS + 2)]
        except csv.Error as error:
            raise BadSheet(f"not a CSV file this console reads: {error}") from None
        if any(len(cell) > MAX_CELL for row in table for cell in row):
            raise BadSheet(f"a CSV cell holds more than {MAX_CELL} characters")
    else:
        raise BadSheet("upload an .xlsx or .csv file")
    if not table:
        raise BadSheet("the file is empty")
    header = table[0]
    if not any(c.header in header for c in template.columns):  # the template downloaded with English headers
        english = {c.english: c.header for c in template.columns}
        header = [english.get(name, name) for name in header]
    missing = [c.header for c in template.columns if c.required and c.header not in header]
    if missing:
        raise BadSheet("missing columns: " + ", ".join(missing))
    index = {name: i for i, name in enumerate(header) if name}
    rows = []
    for number, values in enumerate(table[1:], start=2):
        if not any(values):
            continue
        cells = {c.header: (values[index[c.header]] if c.header in index and index[c.header] < len(values) else "")
                 for c in template.columns}
        rows.append(Row(number, cells))
    if len(rows) > MAX_ROWS:
        raise BadSheet(f"at most {MAX_ROWS} rows per batch")
    return rows


_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def check_cells(template: Template, row: Row) -> None:
    """What the sheet itself must get right: required cells and the number of decimals."""
    for column in template.columns:
        value = row.cells.get(column.header, "")
        if not value:
            if column.required:
                row.errors.setdefault(column.header, []).append("required / 必填")
            continue
        if column.decimals is not None:
            if not _NUMBER.match(value):
                row.errors.setdefault(column.header, []).append("must be a number / 须为数字")
            elif "." in value and len(value.split(".")[1]) > column.decimals:
                row.errors.setdefault(column.header, []).append(
                    f"at most {column.decimals} decimals / 最多 {column.decimals} 位小数")


@dataclass
class Built:
    """One document assembled from rows, with the command fields beside it."""

    document: dict[str, Any]
    rows: list[Row]
    ebp_code: str = ""  # the clearance's platform (a CEB511's command)
    envelope: dict[str, str] = field(default_factory=dict)  # the other command fields (a CEB505's orderNo …)

    def command_fields(self) -> dict[str, str]:
        return {**self.envelope, **({"ebpCode": self.ebp_code} if self.ebp_code else {})}


def build(template: Template, rows: list[Row], tenant: Tenant) -> list[Built]:
    """The documents of the kept rows: presets first, then the cells (an optional column's default for
    an empty one), then derived fields."""
    built: dict[str, Built] = {}
    order: list[str] = []
    for row in rows:
        if row.dropped:
            continue
        group = row.cells.get(_header_of(template, f"Head.{template.group_by}"), "") if template.group_by else ""
        key = group or f"row-{row.number}"
        if key not in built:
            head: dict[str, Any] = {**template.preset(tenant), **strategy_defaults(template, tenant)}
            document: dict[str, Any] = {template.head: head} if template.head else head
            if template.lines:
                document[template.lines] = []
            built[key] = Built(document, [])
            order.append(key)
        target = built[key]
        target.rows.append(row)
        first = target.rows[0]
        line: dict[str, str] = {}
        for column in template.columns:
            given = row.cells.get(column.header, "")
            value = given or column.default
            part, _, name = column.field.partition(".")
            if part == "Command" and name == "ebpCode":
                target.ebp_code = value
            elif part == "Command":
                if value:
                    target.envelope[name] = value
            elif part == "Head" and given and first is not row and first.cells.get(column.header) \
                    and first.cells[column.header] != given:  # one document, one head: its rows agree
                row.errors.setdefault(column.header, []).append(
                    f"differs from row {first.number} / 与第 {first.number} 行不同")
            elif part == "Head" and value and (given or name not in template.head_of(target.document)):
                template.head_of(target.document)[name] = value  # a cell wins over a preset, a default not
            elif part == "List" and value:
                line[name] = value
        if template.lines:
            target.document[template.lines].append(line)
    out = [built[k] for k in order]
    for item in out:
        template.derive(item.document)
    return out


def _header_of(template: Template, field_path: str) -> str:
    return next((c.header for c in template.columns if c.field == field_path), "")


_PATH = re.compile(r"^[A-Za-z]+\[\d+\]\.(?P<part>[A-Za-z]+)(\[(?P<line>\d+)\])?\.(?P<name>\w+)")


def place(template: Template, item: Built, path: str) -> tuple[Row, str]:
    """The row and column a finding belongs to (the first row, and '' when no column holds its field).

    ``Order[1].OrderList[2].qty`` is the second line's; ``Order[1].OrderHead.orderNo`` and a flat node's
    ``Receipts[1].orderNo`` the head's; a bare ``orderNo`` (the command's) the column of that command field."""
    steps = [(name, index.rstrip("]")) for name, _, index in (s.partition("[") for s in path.split("."))]
    name = steps[-1][0]
    if len(steps) == 1:
        return item.rows[0], _header_of(template, f"Command.{name}")
    parent, line = steps[-2]
    if template.lines and parent == template.lines:
        header = _header_of(template, f"List.{name}")
        n = int(line) - 1 if line.isdigit() else -1
        return (item.rows[n] if 0 <= n < len(item.rows) else item.rows[0]), header
    return item.rows[0], _header_of(template, f"Head.{name}")


def findings(template: Template, item: Built, tenant: Tenant) -> list[Any]:
    """What the entry form of the type would say of the document: the command's missing fields, the
    strategy's refusals, then the CEB core on the document with the strategy applied (the same rule
    functions, ``roles`` and ``checks``)."""
    spec = BY_CODE[template.doc_type]
    envelope = {**item.command_fields(), **({"strategy": template.strategy} if template.strategy else {})}
    checked, refused = roles.with_strategy(spec, item.document, envelope, TenantRegistry([tenant]),
                                           tenant.customs_code)
    return [*roles.envelope_findings(spec, envelope),
            *[e.to_dict() for e in [*refused, *core_findings(spec.code, checked)]]]


def validate_rows(template: Template, rows: list[Row], tenant: Tenant) -> list[Built]:
    """Check every kept row's cells, then each document as its entry form does; findings go on their cells."""
    for row in rows:
        row.errors = {}
        if not row.dropped:
            check_cells(template, row)
    built = build(template, rows, tenant)
    for item in built:
        if any(r.errors for r in item.rows):
            continue  # the sheet's own findings first: the core would only repeat them
        for error in findings(template, item, tenant):
            row, header = place(template, item, str(error.get("path", "")))
            row.errors.setdefault(header, []).append(
                f"{error.get('code')} {error.get('path')} [{error.get('rule', '')}]: {error.get('message')}")
    return built


def template_workbook(template: Template, english: bool = False) -> bytes:
    """The template as ``.xlsx``: the header row (Chinese, or English), every column formatted as text."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = template.doc_type
    sheet.append(template.headers(english))
    for n in range(1, len(template.columns) + 1):
        letter = sheet.cell(row=1, column=n).column_letter
        sheet.column_dimensions[letter].width = 16
        for r in range(2, 502):
            sheet.cell(row=r, column=n).number_format = "@"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def template_csv(template: Template, english: bool = False) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerow(template.headers(english))
    return ("\ufeff" + out.getvalue()).encode("utf-8")

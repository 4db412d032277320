"""Import sheets: the seed's columns, text cells, decimals, and every CEB core finding on its own cell."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from cbec_testkit.tenants import demo_registry
from console_service.importing import (
    TEMPLATES,
    BadSheet,
    Row,
    read_sheet,
    template_csv,
    template_workbook,
    validate_rows,
)
from openpyxl import Workbook, load_workbook

PLATFORM = demo_registry().get("3105960001")
ORDERS = TEMPLATES["CEB311"]
GOOD = {"订单号": "A-1", "商品货号": "SKU1", "商品名称": "面霜", "规格型号": "50ml", "数量": "2", "总额": "40.00",
        "单价": "20", "计量单位": "142", "原产国": "116", "运费": "0", "订购人姓名": "张三",
        "订购人证件号码": "310101199001011234", "订购人电话": "13900000000", "支付企业代码": "3301960002",
        "支付企业名称": "示例支付", "支付交易编号": "PAY1", "收货人": "张三", "收货人电话": "13900000000",
        "收货地址": "上海市示例路1号"}


def xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_the_order_template_has_the_seed_columns_as_text_cells() -> None:
    headers = ORDERS.headers()
    for seed_column in ("订单号", "商品货号", "商品名称", "数量", "总额", "单价", "计量单位"):
        assert seed_column in headers
    sheet = load_workbook(io.BytesIO(template_workbook(ORDERS))).active
    assert sheet is not None
    assert [c.value for c in sheet[1]] == headers
    assert sheet.cell(row=2, column=1).number_format == "@"
    assert template_csv(ORDERS).decode("utf-8-sig").strip() == ",".join(headers)


def test_valid_rows_make_one_order_per_number_with_derived_totals() -> None:
    rows = [Row(2, dict(GOOD)), Row(3, dict(GOOD, 商品货号="SKU2", 总额="20.00", 数量="1"))]
    [order] = validate_rows(ORDERS, rows, PLATFORM)
    assert all(not r.errors for r in rows)
    head = order.document["OrderHead"]
    assert head["ebpCode"] == PLATFORM.customs_code  # the preset: the declaring enterprise
    assert head["goodsValue"] == "60.00" and head["acturalPaid"] == "60.00"
    assert [line["gnum"] for line in order.document["OrderList"]] == ["1", "2"]


def test_too_many_decimals_are_found_on_their_cell() -> None:
    rows = [Row(2, dict(GOOD)), Row(3, dict(GOOD, 订单号="A-2", 数量="1.123456", 总额="1.234"))]
    validate_rows(ORDERS, rows, PLATFORM)
    assert rows[0].errors == {}
    assert set(rows[1].errors) == {"数量", "总额"}
    assert "5" in rows[1].errors["数量"][0] and "2" in rows[1].errors["总额"][0]


def test_a_ceb_core_rule_is_placed_on_the_cell_of_its_field() -> None:
    rows = [Row(2, dict(GOOD, 总额="41.00"))]  # not price × quantity
    validate_rows(ORDERS, rows, PLATFORM)
    [finding] = rows[0].errors["总额"]
    assert finding.startswith("CBEC-TOTAL-PRICE Order[1].OrderList[1].totalPrice")


def test_a_dropped_row_is_neither_checked_nor_declared() -> None:
    rows = [Row(2, dict(GOOD)), Row(3, dict(GOOD, 订单号="A-2", 数量="x"))]
    rows[1].dropped = True
    built = validate_rows(ORDERS, rows, PLATFORM)
    assert rows[1].errors == {} and [b.document["OrderHead"]["orderNo"] for b in built] == ["A-1"]


def test_xlsx_and_csv_read_alike_and_numbers_stay_text() -> None:
    headers = ORDERS.headers()
    values = [GOOD[h] for h in headers]
    values[headers.index("订单号")] = 123  # a number cell: read as the text it shows
    from_xlsx = read_sheet(ORDERS, "orders.xlsx", xlsx([headers, values, [None] * len(headers)]))
    assert [r.cells["订单号"] for r in from_xlsx] == ["123"]
    csv_text = ",".join(headers) + "\n" + ",".join(GOOD[h] for h in headers) + "\n"
    [from_csv] = read_sheet(ORDERS, "orders.csv", ("\ufeff" + csv_text).encode())
    assert from_csv.cells == GOOD


@pytest.mark.parametrize(("name", "data", "problem"), [
    ("orders.txt", b"x", "upload an .xlsx or .csv"),
    ("orders.xlsx", b"not a workbook", "not an .xlsx"),
    ("orders.csv", "订单号\nA\n".encode(), "missing columns"),
    ("orders.csv", b"\xff\xfe bad", "UTF-8"),
])
def test_a_sheet_it_cannot_read_is_refused_with_a_reason(name: str, data: bytes, problem: str) -> None:
    with pytest.raises(BadSheet, match=problem):
        read_sheet(ORDERS, name, data)


def test_batch_items_speak_the_seed_push_statuses() -> None:
    from console_service.batches import Item, push_status

    item = Item([2], "CEB311", ["A-1"], {})
    assert push_status(item) == "待推送"
    item.result = "accepted"
    assert push_status(item) == "申报中"
    item.status_code = 120
    assert push_status(item) == "成功"
    item.status_code = 100
    assert push_status(item) == "失败"
    assert push_status(Item([3], "CEB311", ["A-2"], {}, result="refused")) == "失败"


def zip_bomb() -> bytes:
    """A real workbook whose shared strings unpack to 200 MiB from well under a MiB."""
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx([ORDERS.headers()]))) as book, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        for info in book.infolist():
            bomb.writestr(info, book.read(info.filename))
        bomb.writestr("xl/padding.xml", b" " * (200 * 1024 * 1024))
    return out.getvalue()


def wide_sheet() -> bytes:
    """Every header, then a row of 16,000 columns."""
    return xlsx([ORDERS.headers(), ["x"] * 16_000])


@pytest.mark.parametrize(("name", "data", "problem"), [
    ("orders.xlsx", zip_bomb(), "unpacks to more than"),
    ("orders.csv", (",".join(ORDERS.headers()) + "\n\"" + "x" * 200_000 + "\"\n").encode(), "CSV"),
    ("orders.csv", "订单号,商品货号\n".encode("gbk"), "UTF-8"),
    ("../../etc/passwd.csv", b"", "empty"),
])
def test_a_hostile_sheet_is_refused_with_a_reason_not_read_whole(name: str, data: bytes, problem: str) -> None:
    with pytest.raises(BadSheet, match=problem):
        read_sheet(ORDERS, name, data)


def test_a_sheet_wider_than_any_template_is_read_only_as_wide_as_its_template() -> None:
    assert read_sheet(ORDERS, "orders.xlsx", wide_sheet())[0].cells["订单号"] == "x"


def test_batch_results_neutralise_cells_a_spreadsheet_would_run_as_formulas() -> None:
    import csv

    from console_service.batches import Batch, Item

    hostile = Item([2], "CEB311", ["=HYPERLINK(\"http://evil\")", "+1"], {}, result="refused",
                   errors=["@SUM(A1)", "-2+3", "\t=cmd", "订单号 '=1' is wrong"], status_code=-621012)
    batch = Batch("b1", "n", "agent", "3105960001", "CEB311", datetime.now(UTC), [hostile])
    [_, row] = list(csv.reader(io.StringIO(batch.results_csv().decode("utf-8-sig"))))
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) or cell == "-621012" for cell in row), row
    assert row[2].startswith("'=HYPERLINK") and row[6] == "-621012"  # a number stays a number

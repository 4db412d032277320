"""Logs never carry a buyer's ID number, name or phone, even when a call site logs a whole document."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from cbec.logging_setup import configure_logging
from cbec.privacy.log_filter import mask_text
from cbec_testkit.samples import declare_orders


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved_handlers:
        root.addHandler(handler)
    root.setLevel(saved_level)


def test_a_document_logged_by_mistake_is_masked(captured: io.StringIO) -> None:
    command = declare_orders(1)[0]
    head = command.document["OrderHead"]
    logging.getLogger("cbec.somewhere.deep").warning("declared %s", command.document)
    logging.getLogger("cbec.other").info("raw command %s", command.to_json().decode())
    output = captured.getvalue()
    assert output.count("\n") == 2
    for secret in (
        head["buyerIdNumber"],
        head["buyerName"],
        head["buyerTelephone"],
        head["consigneeTelephone"],
    ):
        assert secret not in output
    assert head["orderNo"] in output


def test_lines_are_json_with_level_logger_and_message(captured: io.StringIO) -> None:
    logging.getLogger("cbec.test").info("hello %s", "world", extra={"orderNo": "DEMO1"})
    entry = json.loads(captured.getvalue())
    assert entry["level"] == "INFO" and entry["logger"] == "cbec.test"
    assert entry["message"] == "hello world" and entry["orderNo"] == "DEMO1"


def test_extras_and_exceptions_are_masked_too(captured: io.StringIO) -> None:
    try:
        raise ValueError("bad buyerIdNumber 11010119900307803X")
    except ValueError:
        logging.getLogger("cbec.test").exception("failed", extra={"phone": "13912345678"})
    output = captured.getvalue()
    assert "11010119900307803X" not in output and "13912345678" not in output
    assert "ValueError" in output


def test_trace_ids_are_logged_inside_a_span(captured: io.StringIO) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        logging.getLogger("cbec.test").info("inside")
    entry = json.loads(captured.getvalue())
    assert entry["trace_id"] == f"{span.get_span_context().trace_id:032x}"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("id 310101199001011234 end", "310101199001011234"),
        ("手机13800138000。", "13800138000"),
        ("tel +86 13800138000", "13800138000"),
        ('{"payerName": "张三"}', "张三"),
        ("<ceb:buyerName>李四</ceb:buyerName>", "李四"),
        ("consigneeAddress=上海市浦东新区示例路1号", "上海市浦东新区示例路1号"),
    ],
)
def test_known_shapes_of_personal_data_are_masked(text: str, secret: str) -> None:
    assert secret not in mask_text(text)


def test_ordinary_numbers_are_left_alone() -> None:
    text = "offset 20260101120000123 notification 123456789012345678901 order DEMO00000001 amount 12345.67"
    assert mask_text(text) == text

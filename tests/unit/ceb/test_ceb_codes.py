"""Receipt status codes (ceb-formats §4) and the customs error-code catalogue (spec ch. 7)."""

from __future__ import annotations

import pytest
from cbec.ceb.codes import error_codes, is_final, outcome, receipt_statuses, status_meaning


@pytest.mark.parametrize(("status", "expected"), [
    ("1", "pending"), ("2", "pending"), ("3", "pending"), ("4", "resend"), ("100", "rejected"),
    ("120", "accepted"), ("300", "pending"), ("399", "concluded"), ("500", "pending"), ("501", "held"),
    ("502", "held"), ("503", "held"), ("599", "held"), ("700", "returned"), ("800", "released"),
    ("899", "closed"), ("-621005", "rejected"), ("-301002", "rejected"),
])  # fmt: skip
def test_every_return_status_of_section_4_has_an_outcome(status: str, expected: str) -> None:
    assert outcome(status) == expected


def test_unknown_statuses_are_refused_not_guessed() -> None:
    with pytest.raises(ValueError):
        outcome("42")
    with pytest.raises(ValueError):
        status_meaning("42")


def test_status_meanings_come_from_the_spec() -> None:
    assert status_meaning("120") == "海关入库"
    assert status_meaning("800") == "放行"
    assert "单笔限额" in status_meaning("-621005")


def test_each_receipt_accepts_the_union_of_the_csv_and_the_xsd_annotations() -> None:
    assert receipt_statuses("CEB312") == {"2", "3", "4", "100", "120", "399"}
    assert receipt_statuses("CEB514Message") == {"2", "3", "4", "100", "120", "399"}  # 120 from the CSV
    assert {"800", "899", "501", "700"} <= receipt_statuses("CEB622")
    assert "800" not in receipt_statuses("CEB624")
    assert {"505", "600"} <= receipt_statuses("CEB214")


@pytest.mark.parametrize(("receipt", "status", "final"), [
    ("CEB312", "2", False), ("CEB312", "120", True), ("CEB412", "120", True), ("CEB512", "120", True),
    ("CEB622", "120", False), ("CEB622", "800", False), ("CEB622", "899", True), ("CEB622", "700", True),
    ("CEB624", "399", True), ("CEB626", "399", True), ("CEB712", "399", True),
    ("CEB622", "100", True), ("CEB311", "-301010", True), ("CEB622", "4", False),
])  # fmt: skip
def test_which_receipts_end_a_documents_life(receipt: str, status: str, final: bool) -> None:
    assert is_final(receipt, status) is final


def test_duplicated_spec_codes_keep_both_rows() -> None:
    assert len(error_codes("-621027")) == 2
    assert len(error_codes("-625022")) == 2
    assert error_codes("0002")[0].area == "transport"
    assert error_codes("-999999") == []

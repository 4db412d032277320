"""The simulator's arrival check fails on a document sent twice, missing or out of prerequisite order.

The journals here are crafted: real DXP files wrapping signed-looking CEB messages are not needed to
test the check itself, but the reading of a journal is tested on real DxpMsg files too.
"""

from __future__ import annotations

from pathlib import Path

from cbec.ceb import codec, dxp
from cbec.ceb.model import CebMessage
from cbec_testkit.load.arrivals import Arrival, check_arrivals, read_arrivals
from cbec_testkit.load.clearances import make_clearance


def _arrivals(*items: tuple[str, str] | tuple[str, str, str, str]) -> list[Arrival]:
    out = []
    for seq, item in enumerate(items):
        doc_type, order_no, guid, app_type = (*item, f"g-{item[0]}-{item[1]}", "1") if len(item) == 2 else item
        out.append(Arrival(seq, doc_type, order_no, guid, app_type, f"f{seq}.xml"))
    return out


def test_a_clearance_in_prerequisite_order_passes_whether_order_or_payment_comes_first() -> None:
    arrivals = _arrivals(("CEB411", "A"), ("CEB311", "A"), ("CEB311", "B"), ("CEB511", "A"), ("CEB411", "B"),
                         ("CEB621", "A"), ("CEB511", "B"), ("CEB621", "B"))
    assert check_arrivals(arrivals, ["A", "B"]) == []


def test_a_waybill_before_the_payment_is_out_of_order() -> None:
    arrivals = _arrivals(("CEB311", "A"), ("CEB511", "A"), ("CEB411", "A"), ("CEB621", "A"))
    assert check_arrivals(arrivals, ["A"]) == ["A: out of prerequisite order: order → waybill → payment → list"]


def test_a_list_before_its_waybill_is_out_of_order() -> None:
    arrivals = _arrivals(("CEB311", "A"), ("CEB411", "A"), ("CEB621", "A"), ("CEB511", "A"))
    assert len(check_arrivals(arrivals, ["A"])) == 1


def test_a_document_sent_twice_fails_even_as_the_same_document() -> None:
    arrivals = _arrivals(("CEB311", "A"), ("CEB411", "A"), ("CEB511", "A"), ("CEB511", "A"), ("CEB621", "A"))
    assert check_arrivals(arrivals, ["A"]) == ["A: waybill arrived twice (f2.xml, f3.xml)"]


def test_a_resend_of_the_same_document_passes_when_customs_loses_receipts() -> None:
    arrivals = _arrivals(("CEB311", "A"), ("CEB411", "A"), ("CEB311", "A"), ("CEB511", "A"), ("CEB621", "A"))
    assert check_arrivals(arrivals, ["A"], resends_allowed=True) == []


def test_a_second_declaration_with_another_guid_fails_even_when_resends_are_allowed() -> None:
    arrivals = _arrivals(("CEB311", "A"), ("CEB411", "A"), ("CEB311", "A", "other", "1"), ("CEB511", "A"),
                         ("CEB621", "A"))
    assert check_arrivals(arrivals, ["A"], resends_allowed=True) == [
        "A: order arrived again as another document (guid other after g-CEB311-A)"]


def test_a_change_declaration_is_not_a_first_declaration() -> None:
    arrivals = _arrivals(("CEB311", "A", "g", "2"), ("CEB411", "A"), ("CEB511", "A"), ("CEB621", "A"))
    assert check_arrivals(arrivals, ["A"]) == ["A: order arrived with appType '2' (f0.xml)"]


def test_a_document_that_never_arrived_is_named_and_other_runs_documents_are_ignored() -> None:
    arrivals = _arrivals(("CEB311", "A"), ("CEB411", "A"), ("CEB511", "A"), ("CEB311", "OLD"), ("CEB311", "OLD"))
    assert check_arrivals(arrivals, ["A", "B"]) == ["A: never reached customs: list",
                                                    "B: never reached customs: order, payment, waybill, list"]


def _drop(folder: Path, name: str, doc_type: str, doc: dict[str, object]) -> None:
    business = codec.build(CebMessage(type=doc_type, docs=[doc], guid="G"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(dxp.wrap(business, msg_type=f"{doc_type}Message", sender_id="DXPENT0000000001",
                                         receiver_ids=["DXPEDCCEB0000002"]))


def test_the_journal_is_read_in_its_order_from_the_outbox_or_an_archive_beside_it(tmp_path: Path) -> None:
    clearance = make_clearance(7)
    outbox = tmp_path / "dxp" / "outbox"
    names = []
    for i, command in enumerate(clearance.commands):
        doc = {**command.document}
        head_name = next(k for k in doc if k.endswith("Head"))
        doc[head_name] = {**doc[head_name], "guid": f"GUID-{i}", "appType": "1"}
        folder = outbox if i % 2 else tmp_path / "dxp" / "archive" / "2026-12-07"
        _drop(folder, f"m{i}.xml", command.doc_type, doc)
        names.append(f"m{i}.xml")
    journal = tmp_path / "journal.txt"
    journal.write_text("\n".join([*names, "gone.xml"]) + "\n")
    arrivals, unreadable = read_arrivals(journal, outbox)
    assert [(a.doc_type, a.order_no, a.guid) for a in arrivals] == [
        ("CEB311", clearance.order_no, "GUID-0"), ("CEB411", clearance.order_no, "GUID-1"),
        ("CEB511", clearance.order_no, "GUID-2"), ("CEB621", clearance.order_no, "GUID-3")]
    assert unreadable == ["gone.xml"]
    assert check_arrivals(arrivals, [clearance.order_no]) == []

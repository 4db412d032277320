"""The simulator's tax desk: a released import list gets its electronic tax bill (CEB816) after the 800, with
amounts from the list's goods; at the end of a settlement period (a test hook) the bills are summarised into a
payment notice and a CEB818 reports each. Every message is valid against the official XSD."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cbec.ceb import codec, dxp
from cbec.ceb.xsd import xsd_errors
from cbec.signing.certs import generate_sm2_identity
from cbec.signing.keys import SigningKey
from cbec.signing.sm2 import SoftwareSM2Key
from cbec_testkit.customs.simulator import SimulatorConfig
from test_customs_simulator import Customs, _clearance


@pytest.fixture(scope="module")
def key() -> SigningKey:
    key_pem, cert_pem = generate_sm2_identity("3105960001", "测试企业")
    return SoftwareSM2Key.from_pem(key_pem, cert_pem)


class TaxCustoms(Customs):
    def __init__(self, root: Path, key: SigningKey, config: SimulatorConfig) -> None:
        super().__init__(root, key, config)
        self.taxes_read: set[str] = set()


def tax_messages(customs: TaxCustoms, seconds: float = 0.0) -> list[tuple[str, dict[str, Any]]]:
    """Let time pass; the tax messages written meanwhile (type, Tax node), each checked against the XSD."""
    customs.wait(seconds)
    out = []
    for path in sorted(customs.inbox.glob("*.xml")):
        business = dxp.unwrap(path.read_bytes()).data
        msg = codec.parse(business)
        if msg.type in ("CEB816", "CEB818") and path.name not in customs.taxes_read:
            customs.taxes_read.add(path.name)
            assert xsd_errors(business, "import") == []
            out.append((msg.type, msg.docs[0]))
    return out


def released(customs: TaxCustoms, n: int = 1) -> dict[str, dict[str, Any]]:
    docs = _clearance(n)
    for code in ("CEB311", "CEB411", "CEB511", "CEB621"):
        customs.send(code, docs[code])
        customs.wait()
    return docs


@pytest.fixture
def customs(tmp_path: Path, key: SigningKey) -> TaxCustoms:
    return TaxCustoms(tmp_path, key, SimulatorConfig(tax_delay=5.0))


def test_a_released_list_gets_its_tax_bill_after_the_800_computed_from_its_goods(customs: TaxCustoms) -> None:
    docs = released(customs)
    assert tax_messages(customs) == []  # released; the bill is not due yet
    [(code, tax)] = tax_messages(customs, 5.0)
    head, lines = tax["TaxHeadRd"], tax["TaxListRd"]
    lines = lines if isinstance(lines, list) else [lines]
    record = next(iter(r for (c, _), r in customs.sim.records.items() if c == "CEB621"))
    assert (code, head["invtNo"], head["status"]) == ("CEB816", record.invt_no, "1")
    inventory = docs["CEB621"]
    goods = sum(Decimal(i["totalPrice"]) for i in inventory["InventoryList"])
    dutiable = goods + Decimal(inventory["InventoryHead"]["freight"]) + Decimal(
        inventory["InventoryHead"].get("insuredFee") or "0")
    assert sum(Decimal(line["taxPrice"]) for line in lines) == pytest.approx(dutiable, abs=Decimal("0.0001"))
    # The simulator's comprehensive tax: 70 % of 13 % VAT, no duty and no consumption tax.
    assert Decimal(head["valueAddedTax"]) == pytest.approx(dutiable * Decimal("0.091"), abs=Decimal("0.0001"))
    assert Decimal(head["valueAddedTax"]) == sum(Decimal(line["valueAddedTax"]) for line in lines)
    assert (head["customsTax"], head["consumptionTax"]) == ("0.00000", "0.00000")


def test_settling_a_period_summarises_the_generated_bills_once_with_one_payment_notice(customs: TaxCustoms) -> None:
    released(customs, 1)
    released(customs, 2)
    bills = {tax["TaxHeadRd"]["invtNo"]: tax["TaxHeadRd"] for _, tax in tax_messages(customs, 5.0)}
    assert len(bills) == 2
    assert customs.sim.settle_taxes() == 2
    statuses = tax_messages(customs)
    assert {code for code, _ in statuses} == {"CEB818"}
    heads = [tax["TaxHeadStatus"] for _, tax in statuses]
    assert {h["invtNo"]: h["taxNo"] for h in heads} == {n: b["taxNo"] for n, b in bills.items()}
    assert {h["status"] for h in heads} == {"2"} and len({h["entDutyNo"] for h in heads}) == 1
    assert customs.sim.settle_taxes() == 0  # nothing generated is left to settle
    assert tax_messages(customs) == []


def test_no_tax_bill_without_a_release_or_when_switched_off(tmp_path: Path, key: SigningKey) -> None:
    off = TaxCustoms(tmp_path, key, SimulatorConfig(tax_delay=None))
    released(off)
    assert tax_messages(off, 60.0) == []


def test_a_cancelled_lists_bill_is_voided_after_the_bill_itself(customs: TaxCustoms) -> None:
    from cbec_testkit.samples import cancel_document

    docs = released(customs)
    record = next(iter(r for (c, _), r in customs.sim.records.items() if c == "CEB621"))
    customs.send("CEB623", cancel_document(docs["CEB621"], record.invt_no))
    assert tax_messages(customs) == []  # concluded at once, but the bill is not issued yet
    messages = tax_messages(customs, 5.0)
    assert [code for code, _ in messages] == ["CEB816", "CEB818"]
    bill, void = messages[0][1]["TaxHeadRd"], messages[1][1]["TaxHeadStatus"]
    assert (void["taxNo"], void["status"]) == (bill["taxNo"], "3") and void["returnTime"] > bill["returnTime"]
    assert customs.sim.settle_taxes() == 0  # a void bill is not summarised

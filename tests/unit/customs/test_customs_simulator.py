"""The customs simulator answers like customs: receipts in order, rules, duplicates, prerequisites, faults."""

from __future__ import annotations

import random
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from cbec.ceb import codec, dxp
from cbec.declaration import ceb_bridge
from cbec.declaration.doctypes import BY_CODE
from cbec.signing.certs import generate_sm2_identity
from cbec.signing.keys import SigningKey
from cbec.signing.sm2 import SoftwareSM2Key
from cbec.signing.xmldsig import sign_document
from cbec_testkit.customs.simulator import CustomsSimulator, SimulatorConfig, answered_files, dropped_files
from cbec_testkit.samples import cancel_document, declare_clearance, entry_document, waybill_document


@pytest.fixture(scope="module")
def key() -> SigningKey:
    key_pem, cert_pem = generate_sm2_identity("3105960001", "测试企业")
    return SoftwareSM2Key.from_pem(key_pem, cert_pem)


class Customs:
    def __init__(self, root: Path, key: SigningKey, config: SimulatorConfig | None = None) -> None:
        self.outbox, self.inbox = root / "outbox", root / "inbox"
        self.outbox.mkdir(parents=True)
        self.inbox.mkdir(parents=True)
        self.key = key
        self.t = 0.0
        self.sim = CustomsSimulator(self.outbox, self.inbox, config=config, clock=lambda: self.t,
                                    rng=random.Random(1))
        self.files = 0
        self.read: set[str] = set()

    def send(self, doc_type: str, document: dict[str, Any], *, guid: str | None = None, app_type: str = "1",
             signed: bool = True, raw: bytes | None = None) -> str:
        dt = BY_CODE[doc_type]
        head = dt.head_of(document)
        self.files += 1
        head.update(guid=guid or f"{self.files:08d}-0000-0000-0000-000000000000", appType=app_type,
                    appTime="20261124100000", appStatus="2")
        xml = ceb_bridge.render(dt, document, {"copCode": "3105960001", "copName": "测试企业", "dxpMode": "DXP",
                                               "dxpId": "DXPENT0000000001"})
        if signed:
            xml = sign_document(xml, self.key)
        name = f"{doc_type}Message_3105960001_20261124100000_{self.files:05d}.xml"
        envelope = raw if raw is not None else dxp.wrap(xml, msg_type=f"{doc_type}Message",
                                                         sender_id="DXPENT0000000001",
                                                         receiver_ids=["DXPEDCCEB0000002"],
                                                         cop_msg_id=f"COP{self.files}")
        (self.outbox / name).write_bytes(envelope)
        return name

    def wait(self, seconds: float = 0.0) -> list[tuple[str, int, str]]:
        """Let time pass; the receipts written meanwhile: (receipt type, status, info)."""
        self.sim.poll()
        self.t += seconds
        self.sim.poll()
        out = []
        for path in sorted(self.inbox.glob("*.xml")):
            if path.name in self.read:
                continue
            self.read.add(path.name)
            msg = codec.parse(dxp.unwrap(path.read_bytes()).data)
            node = msg.docs[0]
            if msg.type in ("CEB816", "CEB818"):  # tax messages, not receipts: test_customs_simulator_tax.py
                continue
            out.append((str(node["returnTime"]), msg.type, int(node["returnStatus"]), str(node.get("returnInfo", ""))))
        return [(t, s, i) for _, t, s, i in sorted(out, key=lambda r: (r[1], r[0]))]

    def statuses(self, seconds: float = 0.0) -> list[int]:
        return [s for _, s, _ in self.wait(seconds)]


@pytest.fixture
def customs(tmp_path: Path, key: SigningKey) -> Customs:
    return Customs(tmp_path, key)


def _clearance(n: int = 1) -> dict[str, dict[str, Any]]:
    return {c.doc_type: c.document for c in declare_clearance(n)}


def test_a_full_clearance_gets_customs_receipt_sequence(customs: Customs) -> None:
    docs = _clearance()
    customs.send("CEB311", docs["CEB311"])
    customs.send("CEB411", docs["CEB411"])
    assert customs.statuses() == [2, 120, 2, 120]
    customs.send("CEB511", docs["CEB511"])
    assert customs.statuses() == [2, 120]
    customs.send("CEB621", docs["CEB621"])
    assert customs.statuses() == [2, 120, 399, 800]
    assert customs.sim.clearance_arrivals["3105960001:" + docs["CEB311"]["OrderHead"]["orderNo"]] == [
        "CEB311", "CEB411", "CEB511", "CEB621"]


def test_receipts_come_after_their_configured_delays(tmp_path: Path, key: SigningKey) -> None:
    customs = Customs(tmp_path, key, SimulatorConfig(first_delay=1, accept_delay=2))
    customs.send("CEB311", _clearance()["CEB311"])
    assert customs.statuses() == []
    assert customs.statuses(1) == [2]
    assert customs.statuses(1) == []
    assert customs.statuses(1) == [120]


def test_a_waybill_before_its_order_and_payment_is_rejected(customs: Customs) -> None:
    docs = _clearance()
    customs.send("CEB311", docs["CEB311"])
    customs.wait()
    customs.send("CEB511", docs["CEB511"])
    [(receipt, status, info)] = customs.wait()
    assert (receipt, status) == ("CEB512", 100) and "支付单" in info


def test_a_list_before_its_waybill_is_rejected(customs: Customs) -> None:
    docs = _clearance()
    customs.send("CEB311", docs["CEB311"])
    customs.send("CEB411", docs["CEB411"])
    customs.wait()
    customs.send("CEB621", docs["CEB621"])
    assert customs.wait() == [("CEB622", 100, "海关退单: 未找到已入库的运单")]


@pytest.mark.parametrize("doc_type,code", [("CEB311", -301010), ("CEB411", -401007)])
def test_a_second_document_with_the_same_business_key_is_a_duplicate(customs: Customs, doc_type: str,
                                                                      code: int) -> None:
    docs = _clearance()
    customs.send(doc_type, docs[doc_type])
    customs.wait()
    customs.send(doc_type, docs[doc_type])  # a new guid: a different document, same key
    assert customs.statuses() == [code]


def test_the_same_document_sent_again_gets_its_current_status_again(customs: Customs) -> None:
    docs = _clearance()
    customs.send("CEB311", docs["CEB311"], guid="AAAAAAAA-0000-0000-0000-000000000000")
    customs.wait()
    customs.send("CEB311", docs["CEB311"], guid="AAAAAAAA-0000-0000-0000-000000000000")
    assert customs.statuses() == [120]


def test_a_change_after_the_list_is_declared_is_refused(customs: Customs) -> None:
    docs = _clearance()
    for doc_type in ("CEB311", "CEB411", "CEB511", "CEB621"):
        customs.send(doc_type, docs[doc_type])
        customs.wait()
    customs.send("CEB311", docs["CEB311"], app_type="2")
    assert customs.statuses() == [-301011]


def test_inconsistent_amounts_between_order_and_payment_get_the_rule_code(customs: Customs) -> None:
    docs = _clearance()
    customs.send("CEB311", docs["CEB311"])
    customs.wait()
    docs["CEB411"]["PaymentHead"]["amountPaid"] = "1.00"
    customs.send("CEB411", docs["CEB411"])
    [(_, status, info)] = customs.wait()
    assert status < 0 and info


def test_a_list_over_the_single_transaction_limit_is_refused_with_621005(customs: Customs) -> None:
    docs = _clearance()
    for doc_type in ("CEB311", "CEB411", "CEB511"):
        customs.send(doc_type, docs[doc_type])
    customs.wait()
    line = docs["CEB621"]["InventoryList"][0]
    line.update(qty="1", qty1="1", price="6000", totalPrice="6000.00")
    customs.send("CEB621", docs["CEB621"])
    assert -621005 in customs.statuses()


def test_the_annual_limit_counts_every_released_list_of_a_buyer(customs: Customs) -> None:
    customs.sim.annual_used[_clearance()["CEB621"]["InventoryHead"]["buyerIdNumber"]] += 25990
    docs = _clearance()
    for doc_type in ("CEB311", "CEB411", "CEB511"):
        customs.send(doc_type, docs[doc_type])
    customs.wait()
    customs.send("CEB621", docs["CEB621"])
    assert customs.statuses() == [-621018]


def test_a_broken_envelope_gets_a_ceb900_naming_the_transmission(customs: Customs) -> None:
    customs.send("CEB311", _clearance()["CEB311"], raw=b"<not-xml")
    [(receipt, status, _)] = customs.wait()
    assert (receipt, status) == ("CEB900", 1)
    node = codec.parse(dxp.unwrap(next(customs.inbox.glob("*.xml")).read_bytes()).data).docs[0]
    assert node["oriBizMessage"].startswith("CEB311Message_")


def test_an_unsigned_list_gets_the_signature_empty_code(customs: Customs) -> None:
    docs = _clearance()
    customs.send("CEB621", docs["CEB621"], signed=False)
    statuses = customs.statuses()
    assert statuses and statuses[0] < 0


def test_a_tampered_signature_gets_the_signature_failure_code(customs: Customs, key: SigningKey) -> None:
    docs = _clearance()
    for doc_type in ("CEB311", "CEB411", "CEB511"):
        customs.send(doc_type, docs[doc_type])
    customs.wait()
    name = customs.send("CEB621", docs["CEB621"])
    path = customs.outbox / name
    envelope = dxp.unwrap(path.read_bytes())
    tampered = envelope.data.replace(b"<ceb:freight>", b"<ceb:freight>1", 1)
    path.write_bytes(dxp.wrap(tampered, msg_type="CEB621Message", sender_id="DXPENT0000000001",
                              receiver_ids=["DXPEDCCEB0000002"]))
    assert customs.statuses() == [-621029]


def test_scripted_faults_inspect_and_lose_a_receipt(tmp_path: Path, key: SigningKey) -> None:
    docs = _clearance()
    order_no = docs["CEB311"]["OrderHead"]["orderNo"]
    customs = Customs(tmp_path, key, SimulatorConfig(faults={("CEB621", order_no): "inspect",
                                                             ("CEB311", order_no): "lose"}))
    customs.send("CEB311", docs["CEB311"], guid="BBBBBBBB-0000-0000-0000-000000000000")
    assert customs.statuses() == []  # customs' answers are lost
    customs.send("CEB311", docs["CEB311"], guid="BBBBBBBB-0000-0000-0000-000000000000")
    assert customs.statuses() == [120]  # resent: customs repeats where it stands
    customs.send("CEB411", docs["CEB411"])
    customs.send("CEB511", docs["CEB511"])
    customs.wait()
    customs.send("CEB621", docs["CEB621"])
    assert customs.statuses() == [2, 120, 500, 399, 800]


def test_a_rejected_document_can_be_declared_again_corrected(tmp_path: Path, key: SigningKey) -> None:
    docs = _clearance()
    order_no = docs["CEB311"]["OrderHead"]["orderNo"]
    customs = Customs(tmp_path, key, SimulatorConfig(faults={("CEB311", order_no): "reject"}))
    customs.send("CEB311", docs["CEB311"])
    assert customs.statuses() == [2, 100]
    customs.send("CEB311", docs["CEB311"], app_type="2")
    assert customs.statuses() == [2, 120]


def test_cancel_is_allowed_only_for_a_released_list(customs: Customs) -> None:
    docs = _clearance()
    for doc_type in ("CEB311", "CEB411", "CEB511"):
        customs.send(doc_type, docs[doc_type])
    customs.send("CEB623", cancel_document(docs["CEB621"], "NO-SUCH-LIST"))
    assert customs.statuses()[-1] == -623003
    customs.send("CEB621", docs["CEB621"])
    customs.wait()
    invt_no = customs.sim.records[("CEB621", BY_CODE["CEB621"].business_key(docs["CEB621"]))].invt_no
    customs.send("CEB623", cancel_document(docs["CEB621"], invt_no))
    assert customs.statuses() == [2, 120, 399]


def test_an_entry_list_needs_the_lists_of_its_waybills(customs: Customs) -> None:
    first, second = _clearance(1), _clearance(2)
    for docs in (first, second):
        for doc_type in ("CEB311", "CEB411", "CEB511"):
            customs.send(doc_type, docs[doc_type])
    customs.send("CEB621", first["CEB621"])
    customs.wait()
    entry = entry_document([first["CEB511"], second["CEB511"]], "E0001")
    customs.send("CEB711", entry)
    [(receipt, status, info)] = customs.wait()
    assert (receipt, status) == ("CEB712", 100) and second["CEB511"]["LogisticsHead"]["logisticsNo"] in info
    customs.send("CEB621", second["CEB621"])
    customs.wait()
    customs.send("CEB711", entry_document([first["CEB511"], second["CEB511"]], "E0002"))
    assert customs.statuses() == [2, 120]


def test_seeded_rates_make_trouble_reproducibly(tmp_path: Path, key: SigningKey) -> None:
    config = SimulatorConfig(rejection_rate=0.5, duplicate_rate=0.5)
    runs = []
    for run in ("a", "b"):
        customs = Customs(tmp_path / run, key, config)
        for n in range(1, 7):
            customs.send("CEB311", _clearance(n)["CEB311"])
        runs.append(customs.statuses())
    assert runs[0] == runs[1]
    assert 100 in runs[0] and 120 in runs[0] and len(runs[0]) > 12


def test_a_restarted_simulator_remembers_what_it_accepted(tmp_path: Path, key: SigningKey) -> None:
    docs = _clearance()
    journal = tmp_path / "journal.txt"
    customs = Customs(tmp_path, key)
    customs.sim = CustomsSimulator(customs.outbox, customs.inbox, journal=journal, clock=lambda: customs.t)
    customs.send("CEB311", docs["CEB311"])
    customs.send("CEB411", docs["CEB411"])
    customs.wait()
    customs.sim = CustomsSimulator(customs.outbox, customs.inbox, journal=journal, clock=lambda: customs.t)
    assert customs.wait() == []  # nothing answered twice
    customs.send("CEB511", waybill_document(docs["CEB311"]))
    assert customs.statuses() == [2, 120]  # its order and payment are still known


def test_the_simulator_process_reads_its_delays_and_rates_from_the_environment() -> None:
    from cbec.settings import Settings

    settings = Settings.from_environ({"CBEC_SIMULATOR_DELAY": "0.5", "CBEC_SIMULATOR_INSPECTION_RATE": "0.25"})
    config = SimulatorConfig.from_settings(settings.simulator)
    assert (config.accept_delay, config.inspection_rate, config.lost_rate) == (0.5, 0.25, 0.0)


def test_answered_files_are_taken_out_of_the_outbox_and_journaled_where_they_rest(
        tmp_path: Path, key: SigningKey) -> None:
    journal = tmp_path / "journal.txt"
    customs = Customs(tmp_path, key)
    customs.sim = CustomsSimulator(customs.outbox, customs.inbox, journal=journal, clock=lambda: customs.t)
    docs = _clearance()
    names = [customs.send("CEB311", docs["CEB311"]), customs.send("CEB411", docs["CEB411"])]
    assert customs.statuses() == [2, 120, 2, 120]
    assert [p.name for p in customs.outbox.glob("*.xml")] == []
    taken = answered_files(journal, customs.outbox)
    assert [p.name for p in taken] == names and all(p.exists() and p.parent.parent.name == "taken" for p in taken)
    assert [p.name for p in dropped_files(customs.outbox)] == names


def test_a_poll_reads_only_what_arrived_since_the_last_one(customs: Customs, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = _clearance()
    customs.send("CEB311", docs["CEB311"])
    customs.send("CEB411", docs["CEB411"])
    customs.wait()
    read: list[str] = []
    real_read_bytes = Path.read_bytes

    def counting(path: Path) -> bytes:
        read.append(path.name)
        return real_read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", counting)
    assert customs.sim.poll() == 0 and read == []  # what it answered is never read again
    name = customs.send("CEB511", docs["CEB511"])
    customs.sim.poll()
    assert read == [name]


def test_a_file_journaled_before_a_crash_is_not_answered_again_after_the_restart(
        tmp_path: Path, key: SigningKey) -> None:
    journal = tmp_path / "journal.txt"
    customs = Customs(tmp_path, key)
    customs.sim = CustomsSimulator(customs.outbox, customs.inbox, journal=journal, clock=lambda: customs.t)
    name = customs.send("CEB311", _clearance()["CEB311"])
    assert customs.statuses() == [2, 120]
    [taken] = answered_files(journal, customs.outbox)
    taken.rename(customs.outbox / name)  # the crash came after the journal line, before the move
    customs.sim = CustomsSimulator(customs.outbox, customs.inbox, journal=journal, clock=lambda: customs.t)
    assert customs.wait() == [] and taken.exists()  # moved now, answered once
    assert ("CEB311", ("3105960001", _clearance()["CEB311"]["OrderHead"]["orderNo"])) in customs.sim.records


def test_without_verification_the_xsd_and_signature_checks_are_skipped(tmp_path: Path, key: SigningKey) -> None:
    docs = _clearance()
    for verify, expected in ((True, [-621029]), (False, [2, 120, 399, 800])):
        customs = Customs(tmp_path / str(verify), key, SimulatorConfig(verify=verify))
        for doc_type in ("CEB311", "CEB411", "CEB511"):
            customs.send(doc_type, docs[doc_type])
        customs.wait()
        name = customs.send("CEB621", docs["CEB621"])
        envelope = dxp.unwrap((customs.outbox / name).read_bytes())
        tampered = envelope.data.replace(b"<ceb:freight>", b"<ceb:freight>1", 1)
        (customs.outbox / name).write_bytes(dxp.wrap(tampered, msg_type="CEB621Message",
                                                     sender_id="DXPENT0000000001", receiver_ids=["DXPEDCCEB0000002"]))
        assert customs.statuses() == expected, verify


def test_a_lost_receipt_is_recovered_by_a_resend_whose_answer_always_arrives(tmp_path: Path, key: SigningKey) -> None:
    customs = Customs(tmp_path, key, SimulatorConfig(lost_rate=1.0))  # every first receipt but 2 is lost
    order = _clearance()["CEB311"]
    customs.send("CEB311", order, guid="CCCCCCCC-0000-0000-0000-000000000000")
    assert customs.statuses() == [2]
    for _ in range(2):  # the saga's resends: the same document again
        customs.send("CEB311", order, guid="CCCCCCCC-0000-0000-0000-000000000000")
        assert customs.statuses() == [120]


def test_verification_and_pacing_come_from_the_environment() -> None:
    from cbec.settings import Settings

    settings = Settings.from_environ({"CBEC_SIMULATOR_VERIFY": "0", "CBEC_SIMULATOR_POLL_EVERY": "1.5"})
    config = SimulatorConfig.from_settings(settings.simulator)
    assert (config.verify, config.poll_every) == (False, 1.5)
    assert SimulatorConfig.from_settings(Settings.from_environ({}).simulator).verify is True


def test_an_idle_simulator_sleeps_until_its_next_receipt_is_due(tmp_path: Path, key: SigningKey) -> None:
    customs = Customs(tmp_path, key, SimulatorConfig(accept_delay=0.2, poll_every=0.5))
    assert customs.sim.idle_for() == 0.5
    customs.send("CEB311", _clearance()["CEB311"])
    customs.sim.poll()
    assert customs.sim.idle_for() == pytest.approx(0.2)


def test_receipts_written_in_one_millisecond_across_a_minute_carry_real_increasing_times(
        tmp_path: Path, key: SigningKey) -> None:
    """Stamps kept strictly increasing step to the next real millisecond: ``…0459.999`` is followed by
    ``…0500.000``, never by the impossible ``…0460.000`` that the platform refuses as no customs time."""
    from datetime import datetime

    from cbec.declaration.receipt_clock import parse_return_time

    customs = Customs(tmp_path, key)
    frozen = datetime(2026, 12, 7, 20, 4, 59, 999_000, tzinfo=UTC)  # 04:04:59.999 in China
    customs.sim.now = lambda: frozen
    docs = _clearance()
    customs.send("CEB311", docs["CEB311"])
    customs.send("CEB411", docs["CEB411"])
    customs.wait()
    stamps = sorted(str(codec.parse(dxp.unwrap(p.read_bytes()).data).docs[0]["returnTime"])
                    for p in customs.inbox.glob("*.xml"))
    assert stamps == ["20261208040459999", "20261208040500000", "20261208040500001", "20261208040500002"]
    assert all(parse_return_time(s) is not None for s in stamps)

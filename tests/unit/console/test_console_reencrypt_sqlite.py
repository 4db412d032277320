"""After a key rotation, `cbec reencrypt-pii console` moves the console's stored drafts, batches and hand-off
parcels to the newest key, so the old one can retire: idempotent, resumable, with progress, and a row that
opens with no key of the ring is named by table and id, never shown (SQLite here; Postgres in
tests/integration/test_console_reencrypt.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cbec.privacy.cipher import AesGcmCipher, CipherError, KeyRing, new_key
from cbec_cli.main import app
from cbec_testkit.samples import parties
from console_service.importing import TEMPLATES, Built, Row
from console_service.reencrypt import reencrypt_console
from console_service.stores import ConsoleTables, SqlHandOffs, SqlWorkbench
from sqlalchemy import Engine, create_engine, insert, select
from typer.testing import CliRunner

PLATFORM, COURIER, WAREHOUSE = parties.PLATFORM, parties.LOGISTICS_COMPANY, parties.DECLARANT
BUYER, PHONE, ID_NUMBER = "张三丰", "13800138000", "110101199003077777"
K0, K1, K2 = new_key(), new_key(), new_key()
OLD = AesGcmCipher(KeyRing.parse(f"k1:{K1}"))
ROTATED = AesGcmCipher(KeyRing.parse(f"k2:{K2},k1:{K1}"))
NEWEST_ONLY = AesGcmCipher(KeyRing.parse(f"k2:{K2}"))


def fill(tables: ConsoleTables, n: int = 3) -> tuple[list[str], list[str], list[str]]:
    """``n`` drafts, ``n`` batches and ``n`` parcels, each with a buyer's name, phone and ID number."""
    bench, handoffs = SqlWorkbench(tables), SqlHandOffs(tables)
    drafts, batches, parcels = [], [], []
    for i in range(n):
        rows = [Row(2, {"订单号": f"SO-{i}", "订购人姓名": BUYER, "订购人电话": PHONE, "订购人证件号码": ID_NUMBER})]
        drafts.append(bench.add_draft("alice", PLATFORM, TEMPLATES["CEB311"], "orders.xlsx", rows).id)
        committed = bench.add_draft("alice", PLATFORM, TEMPLATES["CEB311"], "orders.xlsx", rows)
        document = {"OrderHead": {"orderNo": f"SO-{i}", "buyerName": BUYER, "buyerIdNumber": ID_NUMBER,
                                  "ebpCode": PLATFORM}}
        batch = bench.commit(committed, f"batch {i}", [Built(document, committed.rows, PLATFORM)],
                             lambda d: (d["OrderHead"]["ebpCode"], d["OrderHead"]["orderNo"]))
        batches.append(batch.id)
        parcels.append(handoffs.post(WAREHOUSE, COURIER, {"consignee": BUYER, "consigneeTelephone": PHONE}).id)
    return drafts, batches, parcels


def key_ids(engine: Engine, tables: ConsoleTables) -> set[str]:
    with engine.connect() as conn:
        return {tables.cipher.key_id(bytes(body)) for t in (tables.drafts, tables.batches, tables.handoffs)
                for body in conn.execute(select(t.c.body)).scalars()}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'console.db'}")
    yield engine
    engine.dispose()


def test_every_body_moves_to_the_newest_key_and_reads_back_with_it_alone(engine: Engine) -> None:
    before = ConsoleTables(engine, OLD)
    before.create()
    drafts, batches, parcels = fill(before)
    lines: list[str] = []

    done = reencrypt_console(ConsoleTables(engine, ROTATED), batch=2, progress=lines.append)

    assert done.changed == {"console_drafts": 3, "console_batches": 3, "console_handoffs": 3}
    assert not done.unreadable and not done.missing
    assert lines[0] == "console_drafts: 2 rows read, 2 re-encrypted" and len(lines) == 6  # 2 batches per table
    assert key_ids(engine, before) == {"k2"}
    after = ConsoleTables(engine, NEWEST_ONLY)
    bench, handoffs = SqlWorkbench(after), SqlHandOffs(after)
    opened_drafts = [bench.draft(d, "alice", PLATFORM) for d in drafts]
    assert [d.rows[0].cells["订购人姓名"] if d else None for d in opened_drafts] == [BUYER] * 3
    opened_batches = [bench.batch(b, PLATFORM) for b in batches]
    assert all(b is not None and ID_NUMBER in json.dumps(b.items_body(), ensure_ascii=False) for b in opened_batches)
    assert [p.id for p in handoffs.addressed_to(COURIER)] == parcels
    assert {p.data["consignee"] for p in handoffs.addressed_to(COURIER)} == {BUYER}


def test_a_second_run_changes_nothing(engine: Engine) -> None:
    ConsoleTables(engine, OLD).create()
    fill(ConsoleTables(engine, OLD))
    assert reencrypt_console(ConsoleTables(engine, ROTATED)).total == 9
    again = reencrypt_console(ConsoleTables(engine, ROTATED))
    assert again.total == 0 and again.read == dict.fromkeys(again.read, 3)


def test_an_interrupted_run_is_finished_by_the_next_one(engine: Engine) -> None:
    ConsoleTables(engine, OLD).create()
    fill(ConsoleTables(engine, OLD), n=5)

    def interrupt(line: str) -> None:
        if line.startswith("console_batches"):
            raise KeyboardInterrupt  # after the drafts and the first batch of batches were committed

    with pytest.raises(KeyboardInterrupt):
        reencrypt_console(ConsoleTables(engine, ROTATED), batch=2, progress=interrupt)
    rest = reencrypt_console(ConsoleTables(engine, ROTATED), batch=2)
    assert rest.changed == {"console_drafts": 0, "console_batches": 3, "console_handoffs": 5}
    assert key_ids(engine, ConsoleTables(engine, ROTATED)) == {"k2"}


def test_a_row_no_key_opens_is_named_by_id_and_left_while_the_others_move(engine: Engine) -> None:
    tables = ConsoleTables(engine, OLD)
    tables.create()
    fill(tables, n=2)
    lost = AesGcmCipher(KeyRing.parse(f"k0:{K0}"))  # a key already retired from the ring
    with engine.begin() as conn:
        conn.execute(insert(tables.handoffs).values(
            id="lost-parcel", warehouse=WAREHOUSE, courier=COURIER, created_at=datetime.now(UTC), result="declared",
            body=lost.encrypt(f'{{"data": {{"consignee": "{BUYER}"}}}}'.encode())))
        tampered = bytearray(OLD.encrypt(BUYER.encode()))
        tampered[-1] ^= 1
        conn.execute(insert(tables.drafts).values(id="zz-tampered", owner="alice", enterprise=PLATFORM,
                                                  created_at=datetime.now(UTC),
                                                  body=bytes(tampered)))

    done = reencrypt_console(ConsoleTables(engine, ROTATED))

    assert {(u.table, u.id) for u in done.unreadable} == {("console_handoffs", "lost-parcel"),
                                                         ("console_drafts", "zz-tampered")}
    assert all(BUYER not in u.reason and PHONE not in u.reason for u in done.unreadable)
    assert done.changed == {"console_drafts": 2, "console_batches": 2, "console_handoffs": 2}
    with engine.connect() as conn:
        body = conn.execute(select(tables.handoffs.c.body).where(tables.handoffs.c.id == "lost-parcel")).scalar_one()
    assert lost.decrypt(bytes(body)).decode().find(BUYER) > 0  # left as it was
    with pytest.raises(CipherError):
        ROTATED.decrypt(bytes(body))


def test_the_command_prints_progress_and_names_an_unreadable_row_without_its_content(
    tmp_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = ConsoleTables(engine, OLD)
    tables.create()
    fill(tables, n=2)
    with engine.begin() as conn:
        conn.execute(insert(tables.handoffs).values(
            id="lost-parcel", warehouse=WAREHOUSE, courier=COURIER, created_at=datetime.now(UTC),
            result="declared", body=AesGcmCipher(KeyRing.parse(f"k0:{K0}")).encrypt(BUYER.encode())))
    monkeypatch.setenv("CBEC_CONSOLE_DATABASE_URL", f"sqlite:///{tmp_path / 'console.db'}")
    monkeypatch.setenv("CBEC_PII_KEYS", f"k2:{K2},k1:{K1}")
    runner = CliRunner()

    first = runner.invoke(app, ["reencrypt-pii", "console"])

    assert first.exit_code == 1, first.output
    assert "console: console_drafts: 2 rows read, 2 re-encrypted" in first.output
    assert "console: 6 rows re-encrypted under key k2" in first.output
    assert ("console_handoffs id lost-parcel opens with no key of the ring, left as it is: no key 'k0' in the ring"
            in first.output)
    assert BUYER not in first.output and PHONE not in first.output and ID_NUMBER not in first.output
    again = runner.invoke(app, ["reencrypt-pii", "console"])
    assert "console: 0 rows re-encrypted under key k2" in again.output and again.exit_code == 1


def test_a_database_without_console_tables_has_nothing_to_do(engine: Engine) -> None:
    done = reencrypt_console(ConsoleTables(engine, ROTATED))
    assert done.total == 0 and done.missing == ["console_drafts", "console_batches", "console_handoffs"]

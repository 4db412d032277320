"""The console's drafts, batches and hand-off parcels: one contract for the memory store (the embedded
development run) and the SQL ones (SQLite here; Postgres in tests/integration/test_console_stores_postgres.py
runs these same tests), plus what only a database can show: a restart loses nothing, and personal data is
never stored in clear text."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cbec.privacy.cipher import AesGcmCipher, new_key
from cbec.settings import Settings
from cbec_testkit.samples import parties
from cbec_testkit.tenants import demo_registry
from console_service.batches import Workbench
from console_service.bootstrap import process
from console_service.handoff import HandOffs
from console_service.importing import TEMPLATES, Built, Row
from console_service.platform import Reply
from console_service.stores import ConsoleTables, SqlHandOffs, SqlWorkbench, StoreNeedsCipher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, select

PLATFORM, COURIER, WAREHOUSE = parties.PLATFORM, parties.LOGISTICS_COMPANY, parties.DECLARANT
BUYER, PHONE, ID_NUMBER = "张三丰", "13800138000", "110101199003077777"


@dataclass
class Stores:
    """A pair of stores, and how to open them again as a restarted process would (None: memory only)."""

    workbench: Workbench
    handoffs: HandOffs
    reopen: Callable[[], tuple[Workbench, HandOffs]] | None
    engine: Engine | None = None
    tables: ConsoleTables | None = None


def sql_stores(engine: Engine, schema: str | None = None) -> Stores:
    cipher = AesGcmCipher.from_spec(f"k1:{new_key()}")
    tables = ConsoleTables(engine, cipher, schema)
    tables.create()

    def reopen() -> tuple[Workbench, HandOffs]:
        again = ConsoleTables(engine, cipher, schema)
        return SqlWorkbench(again), SqlHandOffs(again)

    return Stores(SqlWorkbench(tables), SqlHandOffs(tables), reopen, engine, tables)


@pytest.fixture(params=["memory", "sqlite"])
def stores(request: pytest.FixtureRequest) -> Iterator[Stores]:
    if request.param == "memory":
        yield Stores(Workbench(), HandOffs(), None)
        return
    engine = create_engine("sqlite://")
    yield sql_stores(engine)
    engine.dispose()


def order_rows() -> list[Row]:
    return [Row(2, {"订单号": "SO-1", "订购人姓名": BUYER, "订购人电话": PHONE, "订购人证件号码": ID_NUMBER}),
            Row(3, {"订单号": "SO-2", "订购人姓名": "李四"}, {"订单号": ["重复"]})]


def commit(workbench: Workbench, owner: str = "alice") -> Any:
    draft = workbench.add_draft(owner, PLATFORM, TEMPLATES["CEB311"], "orders.xlsx", order_rows())
    document = {"OrderHead": {"orderNo": "SO-1", "buyerName": BUYER, "buyerTelephone": PHONE,
                              "buyerIdNumber": ID_NUMBER, "ebpCode": PLATFORM}}
    return draft, workbench.commit(draft, "first batch", [Built(document, draft.rows[:1], PLATFORM)],
                                   lambda d: (d["OrderHead"]["ebpCode"], d["OrderHead"]["orderNo"]))


def test_a_draft_is_seen_only_by_its_user_in_its_enterprise_and_keeps_its_edits(stores: Stores) -> None:
    bench = stores.workbench
    draft = bench.add_draft("alice", PLATFORM, TEMPLATES["CEB311"], "orders.xlsx", order_rows())
    assert bench.draft(draft.id, "bob", PLATFORM) is None
    assert bench.draft(draft.id, "alice", COURIER) is None
    assert bench.draft("no-such-draft", "alice", PLATFORM) is None
    mine = bench.draft(draft.id, "alice", PLATFORM)
    assert mine is not None and mine.error_count() == 1
    mine.rows[1].dropped = True
    mine.rows[0].cells["订购人电话"] = "13900139000"
    bench.save_draft(mine)
    if stores.reopen is not None:
        bench = stores.reopen()[0]
    again = bench.draft(draft.id, "alice", PLATFORM)
    assert again is not None and again.error_count() == 0 and again.template.doc_type == "CEB311"
    assert again.rows[0].cells["订购人电话"] == "13900139000" and again.rows[1].dropped


def test_committing_turns_the_draft_into_a_batch_of_its_enterprise_whose_progress_is_kept(stores: Stores) -> None:
    draft, batch = commit(stores.workbench)
    bench = stores.workbench
    assert bench.draft(draft.id, "alice", PLATFORM) is None, "a committed draft is gone"
    assert bench.batch(batch.id, COURIER) is None
    [item] = batch.items
    assert item.command["sender"] == PLATFORM and item.business_key == [PLATFORM, "SO-1"] and item.rows == [2]
    item.result, item.status, item.status_code, item.clearance_key = "accepted", "released", 800, f"{PLATFORM}:SO-1"
    batch.done = True
    bench.save_batch(batch)
    if stores.reopen is not None:
        bench = stores.reopen()[0]
    again = bench.batch(batch.id, PLATFORM)
    assert again is not None and again.done and again.name == "first batch"
    assert again.to_json()["items"][0]["push"] == "成功" and again.items[0].command == item.command
    assert [b.id for b in bench.of(PLATFORM)] == [batch.id] and bench.of(COURIER) == []


def test_batches_are_listed_newest_first_and_the_unfinished_ones_oldest_first(stores: Stores) -> None:
    first = commit(stores.workbench)[1]
    second = commit(stores.workbench, owner="bob")[1]
    third = commit(stores.workbench, owner="carol")[1]
    assert [b.id for b in stores.workbench.of(PLATFORM)] == [third.id, second.id, first.id]
    second.done = True
    stores.workbench.save_batch(second)
    bench = stores.reopen()[0] if stores.reopen is not None else stores.workbench
    assert [b.id for b in bench.unfinished()] == [first.id, third.id]


def test_a_parcel_is_seen_by_its_warehouse_and_courier_and_its_declaration_is_kept(stores: Stores) -> None:
    handoffs = stores.handoffs
    parcel = handoffs.post(WAREHOUSE, COURIER, {"orderNo": "SO-1", "consignee": BUYER, "consigneeTelephone": PHONE,
                                                "weight": "1.2", "not-a-field": "ignored"})
    assert "not-a-field" not in parcel.data and parcel.data["consignee"] == BUYER
    assert handoffs.for_courier(parcel.id, WAREHOUSE) is None, "only the courier it was posted for declares it"
    mine = handoffs.for_courier(parcel.id, COURIER)
    assert mine is not None
    mine.result, mine.errors = "refused", ["1001 LogisticsHead.billNo: required"]
    handoffs.save(mine)
    if stores.reopen is not None:
        handoffs = stores.reopen()[1]
    [posted] = handoffs.posted_by(WAREHOUSE)
    [incoming] = handoffs.addressed_to(COURIER)
    assert posted.id == incoming.id == parcel.id and incoming.result == "refused"
    assert incoming.errors == ["1001 LogisticsHead.billNo: required"] and incoming.data["consigneeTelephone"] == PHONE
    assert handoffs.posted_by(COURIER) == [] and handoffs.addressed_to(WAREHOUSE) == []


@pytest.fixture
def sql() -> Iterator[Stores]:
    engine = create_engine("sqlite://")
    yield sql_stores(engine)
    engine.dispose()


def test_the_database_holds_no_buyer_name_phone_or_id_number_in_clear_text(sql: Stores) -> None:
    stores = sql
    assert stores.engine is not None and stores.tables is not None
    draft = stores.workbench.add_draft("alice", PLATFORM, TEMPLATES["CEB311"], "orders.xlsx", order_rows())
    commit(stores.workbench)
    stores.handoffs.post(WAREHOUSE, COURIER, {"consignee": BUYER, "consigneeTelephone": PHONE})
    dumped = b""
    with stores.engine.connect() as conn:
        for table in (stores.tables.drafts, stores.tables.batches, stores.tables.handoffs):
            for row in conn.execute(select(table)).all():
                dumped += b"|".join(v if isinstance(v, bytes) else str(v).encode() for v in row)
    assert draft.id.encode() in dumped  # (the dump is not empty)
    for secret in (BUYER, PHONE, ID_NUMBER):
        assert secret.encode() not in dumped and secret.encode("unicode_escape") not in dumped


def test_the_sql_stores_refuse_to_open_without_the_pii_cipher() -> None:
    with pytest.raises(StoreNeedsCipher, match="CBEC_PII_KEYS"):
        ConsoleTables(create_engine("sqlite://"), None)


class AnsweringPlatform:
    """A sandbox platform that accepts every declaration and counts them by command id."""

    environment = "sandbox"

    def __init__(self) -> None:
        self.declared: list[str] = []

    async def declare(self, tenant: str, command: dict[str, Any]) -> Reply:
        self.declared.append(str(command["commandId"]))
        return Reply(202, {"result": "accepted", "status": "received", "errors": []})


def test_the_console_stores_in_its_database_and_resumes_a_batch_a_restart_interrupted(tmp_path: Any) -> None:
    environ = {"CBEC_CONSOLE_DATABASE_URL": f"sqlite:///{tmp_path / 'console.db'}", "CBEC_PII_KEYS": f"k1:{new_key()}"}
    first = process(Settings.from_environ(environ), demo_registry()).config
    assert isinstance(first.workbench, SqlWorkbench) and isinstance(first.handoffs, SqlHandOffs)
    interrupted = commit(first.workbench)[1]  # committed, then the process stopped before declaring it

    platform = AnsweringPlatform()
    console = process(Settings.from_environ(environ), demo_registry(), sandbox=lambda _t: (platform, lambda: None))
    with TestClient(console.app()):
        for _ in range(100):
            if console.config.workbench.unfinished() == []:
                break
            time.sleep(0.05)
    assert platform.declared == [interrupted.items[0].command["commandId"]]
    done = process(Settings.from_environ(environ), demo_registry()).config.workbench.batch(interrupted.id, PLATFORM)
    assert done is not None and done.done and done.items[0].result == "accepted"

    keyless = {k: v for k, v in environ.items() if k != "CBEC_PII_KEYS"}
    memory = process(Settings.from_environ(keyless), demo_registry()).config
    assert type(memory.workbench) is Workbench and type(memory.handoffs) is HandOffs  # never clear text


def test_creating_the_first_operator_needs_only_the_users_store_not_the_pii_keys(tmp_path: Any) -> None:
    from console_service.accounts import SqlAccounts
    from console_service.bootstrap import ConsoleMisconfigured, open_accounts, open_stores

    settings = Settings.from_environ({"CBEC_ENV": "production",
                                      "CBEC_CONSOLE_DATABASE_URL": f"sqlite:///{tmp_path / 'users.db'}"})
    assert isinstance(open_accounts(settings), SqlAccounts)
    with pytest.raises(ConsoleMisconfigured, match="CBEC_PII_KEYS"):
        open_stores(settings)  # the console itself would store drafts: it needs the keys

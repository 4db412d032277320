"""`cbec reencrypt-pii console` on Postgres: the console's drafts, batches and hand-off parcels (the tables of
migration 0004, in the schema ``<prefix>console``) move to the newest key, the old key retires, a row no key
opens is named and left, and a row the console rewrites meanwhile keeps the console's version."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from cbec.privacy.cipher import AesGcmCipher, KeyRing, new_key
from cbec.readmodel.tables import open_engine
from cbec_testkit.samples import parties
from console_service.importing import TEMPLATES, Built, Row
from console_service.reencrypt import reencrypt_console
from console_service.stores import ConsoleTables, SqlHandOffs, SqlWorkbench
from sqlalchemy import Engine, insert, select, update

pytestmark = pytest.mark.integration

PLATFORM, COURIER, WAREHOUSE = parties.PLATFORM, parties.LOGISTICS_COMPANY, parties.DECLARANT
BUYER, PHONE, ID_NUMBER = "张三丰", "13800138000", "110101199003077777"
K0, K1, K2 = new_key(), new_key(), new_key()
OLD = AesGcmCipher(KeyRing.parse(f"k1:{K1}"))
ROTATED = AesGcmCipher(KeyRing.parse(f"k2:{K2},k1:{K1}"))
NEWEST_ONLY = AesGcmCipher(KeyRing.parse(f"k2:{K2}"))


@pytest.fixture
def prefix(database_url: str) -> Iterator[str]:
    """A schema prefix of this test's own; its console schema is dropped afterwards."""
    name = f"r{uuid.uuid4().hex[:10]}_"
    yield name
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}console" CASCADE')


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = open_engine(database_url, pool_size=2, max_overflow=2)
    yield engine
    engine.dispose()


def fill(tables: ConsoleTables, n: int) -> tuple[list[str], list[str], list[str]]:
    bench, handoffs = SqlWorkbench(tables), SqlHandOffs(tables)
    drafts, batches, parcels = [], [], []
    for i in range(n):
        rows = [Row(2, {"订单号": f"SO-{i}", "订购人姓名": BUYER, "订购人电话": PHONE, "订购人证件号码": ID_NUMBER})]
        drafts.append(bench.add_draft("alice", PLATFORM, TEMPLATES["CEB311"], "orders.xlsx", rows).id)
        committed = bench.add_draft("alice", PLATFORM, TEMPLATES["CEB311"], "orders.xlsx", rows)
        document = {"OrderHead": {"orderNo": f"SO-{i}", "buyerName": BUYER, "ebpCode": PLATFORM}}
        batches.append(bench.commit(committed, f"batch {i}", [Built(document, committed.rows, PLATFORM)],
                                    lambda d: (d["OrderHead"]["ebpCode"], d["OrderHead"]["orderNo"])).id)
        parcels.append(handoffs.post(WAREHOUSE, COURIER, {"consignee": BUYER, "consigneeTelephone": PHONE}).id)
    return drafts, batches, parcels


def key_ids(engine: Engine, tables: ConsoleTables) -> set[str]:
    with engine.connect() as conn:
        return {tables.cipher.key_id(bytes(body)) for t in (tables.drafts, tables.batches, tables.handoffs)
                for body in conn.execute(select(t.c.body)).scalars()}


def cbec(database_url: str, prefix: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "CBEC_DATABASE_URL": database_url, "CBEC_SCHEMA_PREFIX": prefix,
           "CBEC_PII_KEYS": f"k2:{K2},k1:{K1}"}
    return subprocess.run([sys.executable, "-m", "cbec_cli.main", *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_the_command_moves_every_body_to_the_new_key_and_names_the_row_no_key_opens(
    database_url: str, prefix: str, engine: Engine
) -> None:
    tables = ConsoleTables(engine, OLD, f"{prefix}console")
    tables.create()
    drafts, batches, parcels = fill(tables, n=210)  # more than one round (200 rows) per table
    with engine.begin() as conn:
        conn.execute(insert(tables.handoffs).values(
            id="lost-parcel", warehouse=WAREHOUSE, courier=COURIER, created_at=datetime.now(UTC), result="declared",
            body=AesGcmCipher(KeyRing.parse(f"k0:{K0}")).encrypt(BUYER.encode())))

    first = cbec(database_url, prefix, "reencrypt-pii", "console")

    out = first.stdout + first.stderr
    assert first.returncode == 1, out  # one row is left for the operator
    assert "console: console_drafts: 200 rows read, 200 re-encrypted" in out
    assert "console: console_drafts: 210 rows read, 210 re-encrypted" in out
    assert "console: console_handoffs: 211 rows read, 210 re-encrypted" in out
    assert "console: 630 rows re-encrypted under key k2" in out
    assert "console_handoffs id lost-parcel opens with no key of the ring" in out
    assert BUYER not in out and PHONE not in out and ID_NUMBER not in out
    assert key_ids(engine, tables) == {"k0", "k2"}

    again = cbec(database_url, prefix, "reencrypt-pii", "console")
    assert "console: 0 rows re-encrypted under key k2" in again.stdout, again.stdout + again.stderr

    after = ConsoleTables(engine, NEWEST_ONLY, f"{prefix}console")
    bench, handoffs = SqlWorkbench(after), SqlHandOffs(after)
    opened = [bench.draft(d, "alice", PLATFORM) for d in drafts[:3]]
    assert [d.rows[0].cells["订购人证件号码"] if d else None for d in opened] == [ID_NUMBER] * 3
    assert all(b is not None and b.items for b in (bench.batch(i, PLATFORM) for i in batches[:3]))
    opened_parcels = [handoffs.for_courier(p, COURIER) for p in parcels[:3]]
    assert [p.data["consignee"] if p else None for p in opened_parcels] == [BUYER] * 3


class RewritingCipher(AesGcmCipher):
    """The rotated ring, and the console saving a parcel anew (under the newest key) just as the job
    re-encrypts it: between the job's read and its write."""

    def __init__(self, engine: Engine, tables: ConsoleTables, parcel: str) -> None:
        super().__init__(ROTATED.ring)
        self.engine, self.tables, self.parcel = engine, tables, parcel
        self.rewritten: bytes | None = None

    def rotate(self, ciphertext: bytes) -> bytes:
        if self.rewritten is None:  # the parcel is the only row to rotate
            body = self.encrypt(b'{"data":{"consignee":"declared-meanwhile"},"errors":[]}')
            with self.engine.begin() as conn:  # another connection: the console's
                conn.execute(update(self.tables.handoffs).where(self.tables.handoffs.c.id == self.parcel)
                             .values(body=body))
            self.rewritten = body
        return super().rotate(ciphertext)


def test_a_parcel_the_console_rewrites_during_the_job_keeps_the_consoles_version(
    prefix: str, engine: Engine
) -> None:
    tables = ConsoleTables(engine, OLD, f"{prefix}console")
    tables.create()
    parcel = SqlHandOffs(tables).post(WAREHOUSE, COURIER, {"consignee": BUYER}).id
    rewriting = RewritingCipher(engine, tables, parcel)

    done = reencrypt_console(ConsoleTables(engine, rewriting, f"{prefix}console"))

    assert done.changed["console_handoffs"] == 0  # the job's write found the row changed and left it
    with engine.connect() as conn:
        body = conn.execute(select(tables.handoffs.c.body).where(tables.handoffs.c.id == parcel)).scalar_one()
    assert rewriting.rewritten is not None and bytes(body) == rewriting.rewritten
    assert b"declared-meanwhile" in NEWEST_ONLY.decrypt(bytes(body))

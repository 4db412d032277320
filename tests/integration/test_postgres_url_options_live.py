"""On a real Postgres: the options of the database URL are honoured by every pool a service opens
(event store, its dedicated sessions, read model, the saga's notification engine), and a demand the
server cannot meet (``sslmode=require`` against a server without TLS) fails instead of being dropped."""

from __future__ import annotations

import sys
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest
from cbec.readmodel.tables import ReadModel
from cbec.store import EventStore, NewEvent
from cbec.store.recorders import connect_dedicated
from conftest import fail_or_skip

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "services" / "saga"))
from saga_service.notification_store import engine_for  # noqa: E402

pytestmark = pytest.mark.integration


def _with(url: str, **options: str) -> str:
    return url + ("&" if "?" in url else "?") + "&".join(f"{k}={v}" for k, v in options.items())


def _sessions(url: str, application_name: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                           (application_name,)).fetchone()
    return int(row[0]) if row else 0


def _server_has_tls(url: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW ssl").fetchone()
    return bool(row and row[0] == "on")


def test_every_pool_connects_under_the_application_name_of_the_url(database_url: str, pg_schema: str) -> None:
    tag = uuid4().hex[:8]
    store = EventStore.open(_with(database_url, application_name=f"cbec-store-{tag}",
                                  options="-c%20statement_timeout%3D4321"), schema=pg_schema, name="order")
    model = ReadModel.open(_with(database_url, application_name=f"cbec-model-{tag}"), "order", schema=pg_schema)
    try:
        store.append(uuid4(), 0, [NewEvent("OrderReceived", {})])
        assert model.position("order") == 0
        assert _sessions(database_url, f"cbec-store-{tag}") >= 1
        assert _sessions(database_url, f"cbec-model-{tag}") >= 1
        with connect_dedicated(store.recorder) as dedicated:
            row = dedicated.execute("SELECT current_setting('application_name'),"
                                    " current_setting('statement_timeout')").fetchone()
            assert row == (f"cbec-store-{tag}", "4321ms")
        with engine_for(store).connect() as notifications:
            assert notifications.exec_driver_sql("SELECT current_setting('application_name')").scalar() \
                == f"cbec-store-{tag}"
    finally:
        store.close()
        model.close()


def test_sslmode_require_is_not_dropped_by_either_pool(database_url: str, pg_schema: str) -> None:
    if _server_has_tls(database_url):
        # CI's throw-away Postgres (scripts/postgres.sh, plain mode) has no TLS
        fail_or_skip("this Postgres offers TLS: sslmode=require would rightly succeed, so nothing is proven")
    demanding = _with(database_url, sslmode="require")
    with pytest.raises(psycopg.OperationalError):
        EventStore.open(demanding, schema=pg_schema, name="order")
    with pytest.raises(Exception, match="SSL|ssl"):
        ReadModel.open(demanding, "order", schema=pg_schema)

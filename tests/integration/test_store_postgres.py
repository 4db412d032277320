"""The event store contract on Postgres: each service's tables in its own schema."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "store"))
from cbec.store import EventStore, NewEvent  # noqa: E402
from store_contract import StoreContract, order_stream, received  # noqa: E402

pytestmark = pytest.mark.integration


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def store(self, database_url: str, pg_schema: str) -> Iterator[EventStore]:
        store = EventStore.open(database_url, schema=pg_schema, name="order", clock=self.clock)
        yield store
        store.close()

    @pytest.fixture
    def reopen(self, database_url: str, pg_schema: str) -> Callable[..., EventStore]:
        def reopen(**kwargs: Any) -> EventStore:
            return EventStore.open(
                database_url, schema=pg_schema, name="order", **{"clock": self.clock, **kwargs}
            )

        return reopen


def test_services_sharing_a_database_keep_apart_by_schema(database_url: str, pg_schema: str) -> None:
    other_schema = f"{pg_schema}_b"
    order = EventStore.open(database_url, schema=pg_schema, name="order")
    payment = EventStore.open(database_url, schema=other_schema, name="payment")
    try:
        order.append(order_stream("SO-1"), 0, [received("SO-1")])
        assert payment.max_notification_id() is None
        assert order.max_notification_id() == 1
    finally:
        order.close()
        payment.close()
        import psycopg

        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{other_schema}" CASCADE')


def test_opening_a_store_twice_on_the_same_schema_is_harmless(database_url: str, pg_schema: str) -> None:
    first = EventStore.open(database_url, schema=pg_schema, name="order")
    sqlalchemy_style = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    second = EventStore.open(sqlalchemy_style, schema=pg_schema, name="order")
    try:
        first.append(uuid4(), 0, [NewEvent("OrderReceived", {})])
        assert second.max_notification_id() == 1
    finally:
        first.close()
        second.close()


def test_replicas_opening_a_new_store_at_the_same_moment_all_start(database_url: str) -> None:
    """Two replicas of a service start together on an empty database: both make the schema, the
    tables and the read model's tables, and neither fails on the catalogue race."""
    from concurrent.futures import ThreadPoolExecutor

    from cbec.readmodel import ReadModel

    schema = f"race_{uuid4().hex[:8]}"

    def start() -> int | None:
        store = EventStore.open(database_url, schema=schema, name="order")
        model = ReadModel.open(database_url, "order", schema=schema)
        try:
            return store.max_notification_id()
        finally:
            model.close()
            store.close()

    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(lambda _: start(), range(6))) == [None] * 6  # six stores, open and empty

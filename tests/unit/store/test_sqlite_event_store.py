"""The event store contract on SQLite: a file per service, and a private in-memory database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from cbec.store import EventStore, NewEvent, open_recorder
from store_contract import StoreContract


class TestSQLiteFileStore(StoreContract):
    @pytest.fixture
    def url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'order.db'}"

    @pytest.fixture
    def store(self, url: str) -> Iterator[EventStore]:
        store = EventStore.open(url, schema="order", name="order", clock=self.clock)
        yield store
        store.close()

    @pytest.fixture
    def reopen(self, url: str) -> Callable[..., EventStore]:
        def reopen(**kwargs: Any) -> EventStore:
            return EventStore.open(url, schema="order", name="order", **{"clock": self.clock, **kwargs})

        return reopen


class _SharedRecorderStore(EventStore):
    def close(self) -> None:
        """The fixture's store owns the recorder."""


class TestSQLiteMemoryStore(StoreContract):
    @pytest.fixture
    def store(self) -> Iterator[EventStore]:
        store = EventStore.open("sqlite:///:memory:", schema="order", name="order", clock=self.clock)
        yield store
        store.close()

    @pytest.fixture
    def reopen(self, store: EventStore) -> Callable[..., EventStore]:
        def reopen(**kwargs: Any) -> EventStore:
            return _SharedRecorderStore(store.recorder, **{"clock": self.clock, **kwargs})

        return reopen


def test_each_memory_url_opens_a_separate_database() -> None:
    with (
        EventStore(open_recorder("sqlite:///:memory:", schema="x", name="order")) as first,
        EventStore(open_recorder("sqlite:///:memory:", schema="x", name="order")) as second,
    ):
        first.append(uuid4(), 0, [NewEvent("OrderReceived", {})])
        assert first.max_notification_id() == 1
        assert second.max_notification_id() is None


def test_unknown_url_schemes_and_unsafe_names_are_refused() -> None:
    with pytest.raises(ValueError, match="scheme"):
        open_recorder("mysql://localhost/db", schema="order", name="order")
    with pytest.raises(ValueError, match="name"):
        open_recorder("sqlite:///:memory:", schema="order", name="order; drop table x")

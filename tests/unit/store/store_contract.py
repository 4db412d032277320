"""What every event store adapter must do. Subclass ``StoreContract`` and provide a ``store``
fixture (and ``reopen``, which opens a second store on the same database)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4, uuid5

import pytest
from cbec.clock import FakeClock
from cbec.store import (
    AlreadyProcessed,
    Append,
    ConcurrencyError,
    DecodeError,
    EventStore,
    NewEvent,
    Tracking,
)

T0 = datetime(2026, 11, 11, 0, 0, tzinfo=UTC)
ORDERS = UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")


def order_stream(order_no: str) -> UUID:
    return uuid5(ORDERS, f"order:EBP001:{order_no}")


def received(order_no: str, total: str = "99.50") -> NewEvent:
    return NewEvent("OrderReceived", {"orderNo": order_no, "goodsValue": Decimal(total)}, {"trace": "t-1"})


def released(order_no: str) -> NewEvent:
    return NewEvent("OrderReleased", {"orderNo": order_no})


class XorCipher:
    """A toy cipher: enough to see that the stored bytes are not the plaintext."""

    def __init__(self, key: int) -> None:
        self.key = key

    def encrypt(self, plaintext: bytes) -> bytes:
        return b"X" + bytes(b ^ self.key for b in plaintext)

    def decrypt(self, ciphertext: bytes) -> bytes:
        if not ciphertext.startswith(b"X"):
            raise ValueError("not ours")
        return bytes(b ^ self.key for b in ciphertext[1:])


class StoreContract:
    clock = FakeClock(T0)

    @pytest.fixture
    def store(self) -> EventStore:
        raise NotImplementedError

    @pytest.fixture
    def reopen(self) -> Callable[..., EventStore]:
        """Returns a function opening another store (kwargs: cipher, clock) on the same database."""
        raise NotImplementedError

    # -- streams -------------------------------------------------------------------------------

    def test_a_new_stream_reads_back_its_events_in_version_order(self, store: EventStore) -> None:
        stream = order_stream("SO-1")
        store.append(stream, 0, [received("SO-1"), released("SO-1")])

        events = store.read(stream)

        assert [(e.version, e.type) for e in events] == [(1, "OrderReceived"), (2, "OrderReleased")]
        assert events[0].stream_id == stream
        assert events[0].data == {"orderNo": "SO-1", "goodsValue": "99.50"}
        assert events[0].metadata == {"trace": "t-1"}
        assert store.stream_version(stream) == 2

    def test_events_carry_the_time_the_clock_told_at_append(self, store: EventStore) -> None:
        stream = order_stream("SO-2")
        store.append(stream, 0, [received("SO-2")])
        (event,) = store.read(stream)
        assert event.recorded_at == self.clock.now()
        assert event.recorded_at.tzinfo is not None

    def test_an_unknown_stream_is_empty_at_version_zero(self, store: EventStore) -> None:
        assert store.read(uuid4()) == []
        assert store.stream_version(uuid4()) == 0

    def test_reading_after_a_version_skips_earlier_events(self, store: EventStore) -> None:
        stream = order_stream("SO-3")
        store.append(stream, 0, [received("SO-3"), released("SO-3")])
        assert [e.version for e in store.read(stream, after_version=1)] == [2]

    # -- optimistic concurrency ----------------------------------------------------------------

    def test_reading_many_streams_gives_each_its_own_events_in_version_order(self, store: EventStore) -> None:
        a, b, unknown = order_stream("SO-40"), order_stream("SO-41"), order_stream("SO-42")
        store.append(a, 0, [received("SO-40")])
        store.append(b, 0, [received("SO-41", "12.00")])
        store.append(a, 1, [released("SO-40")])

        streams = store.read_many([b, unknown, a, b])

        assert list(streams) == [b, unknown, a]
        assert [(e.stream_id, e.version, e.type) for e in streams[a]] == [
            (a, 1, "OrderReceived"),
            (a, 2, "OrderReleased"),
        ]
        assert streams[b][0].data == {"orderNo": "SO-41", "goodsValue": "12.00"}
        assert streams[b] == store.read(b)
        assert streams[unknown] == []
        assert store.read_many([]) == {}

    def test_reading_many_streams_copes_with_more_than_one_query_worth(self, store: EventStore) -> None:
        streams = [order_stream(f"SO-5{n:03d}") for n in range(450)]
        store.append_batch([Append(s, 0, [received("SO")]) for s in streams[::2]])

        found = store.read_many(streams)

        assert [len(found[s]) for s in streams] == [1, 0] * 225

    def test_a_stale_expected_version_is_refused_and_writes_nothing(self, store: EventStore) -> None:
        stream = order_stream("SO-4")
        store.append(stream, 0, [received("SO-4")])
        with pytest.raises(ConcurrencyError):
            store.append(stream, 0, [released("SO-4"), released("SO-4")])
        assert [e.type for e in store.read(stream)] == ["OrderReceived"]

    def test_an_expected_version_ahead_of_the_stream_is_refused(self, store: EventStore) -> None:
        stream = order_stream("SO-5")
        store.append(stream, 0, [received("SO-5")])
        with pytest.raises(ConcurrencyError):
            store.append(stream, 3, [released("SO-5")])
        assert store.stream_version(stream) == 1

    def test_of_two_writers_racing_on_one_stream_exactly_one_wins(self, store: EventStore) -> None:
        stream = order_stream("SO-6")
        store.append(stream, 0, [received("SO-6")])
        outcomes: list[str] = []
        start = threading.Barrier(4)

        def writer() -> None:
            start.wait()
            try:
                store.append(stream, 1, [released("SO-6")])
                outcomes.append("won")
            except ConcurrencyError:
                outcomes.append("lost")

        threads = [threading.Thread(target=writer) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["lost", "lost", "lost", "won"]
        assert store.stream_version(stream) == 2

    def test_a_batch_is_all_or_nothing(self, store: EventStore) -> None:
        taken, fresh = order_stream("SO-7"), order_stream("SO-8")
        store.append(taken, 0, [received("SO-7")])
        with pytest.raises(ConcurrencyError):
            store.append_batch([Append(fresh, 0, [received("SO-8")]), Append(taken, 0, [received("SO-7")])])
        assert store.read(fresh) == []

    def test_a_batch_writes_several_streams_in_one_go(self, store: EventStore) -> None:
        a, b = order_stream("SO-9"), order_stream("SO-10")
        ids = store.append_batch([Append(a, 0, [received("SO-9")]), Append(b, 0, [received("SO-10")])])
        assert len(ids) == 2 and ids[0] < ids[1]
        assert store.stream_version(a) == store.stream_version(b) == 1

    def test_a_batch_may_append_to_one_stream_twice_in_sequence(self, store: EventStore) -> None:
        stream = order_stream("SO-22")
        store.append(stream, 0, [received("SO-22")])
        store.append_batch([Append(stream, 1, [released("SO-22")]), Append(stream, 2, [released("SO-22")])])
        assert store.stream_version(stream) == 3
        with pytest.raises(ConcurrencyError):
            store.append_batch(
                [Append(stream, 3, [released("SO-22")]), Append(stream, 3, [released("SO-22")])]
            )
        assert store.stream_version(stream) == 3

    def test_a_batch_is_refused_when_any_stream_is_behind_its_expected_version(
        self, store: EventStore
    ) -> None:
        known = [order_stream(f"SO-3{n}") for n in range(5)]
        store.append_batch([Append(s, 0, [received("SO")]) for s in known])
        with pytest.raises(ConcurrencyError):
            store.append_batch(
                [Append(s, 1, [released("SO")]) for s in known] + [Append(uuid4(), 1, [released("SO")])]
            )
        store.append_batch([Append(s, 1, [released("SO")]) for s in known])
        assert {store.stream_version(s) for s in known} == {2}

    # -- tracking (idempotent consumers) ---------------------------------------------------------

    def test_a_redelivered_message_is_reported_already_processed_and_writes_nothing(
        self, store: EventStore
    ) -> None:
        stream = order_stream("SO-11")
        position = Tracking("saga|cbec.in.order/0", 41)
        store.append(stream, 0, [received("SO-11")], tracking=position)

        with pytest.raises(AlreadyProcessed):
            store.append(order_stream("SO-12"), 0, [received("SO-12")], tracking=position)

        assert store.read(order_stream("SO-12")) == []
        assert store.has_tracking("saga|cbec.in.order/0", 41)

    def test_a_message_behind_the_recorded_position_counts_as_processed(self, store: EventStore) -> None:
        store.record_tracking(Tracking("saga|cbec.in.order/1", 10))
        with pytest.raises(AlreadyProcessed):
            store.append(
                order_stream("SO-13"), 0, [received("SO-13")], tracking=Tracking("saga|cbec.in.order/1", 7)
            )
        assert store.has_tracking("saga|cbec.in.order/1", 7)
        assert not store.has_tracking("saga|cbec.in.order/1", 11)

    def test_a_redelivery_wins_over_a_version_conflict(self, store: EventStore) -> None:
        stream = order_stream("SO-14")
        position = Tracking("inventory|cbec.in.order/0", 3)
        store.append(stream, 0, [received("SO-14")], tracking=position)
        with pytest.raises(AlreadyProcessed):
            store.append(stream, 0, [received("SO-14")], tracking=position)

    def test_tracking_is_kept_per_consumer(self, store: EventStore) -> None:
        assert store.max_tracking_id("payment|x/0") is None
        store.record_tracking(Tracking("payment|x/0", 5))
        store.append(order_stream("SO-15"), 0, [received("SO-15")], tracking=Tracking("payment|x/0", 9))
        store.record_tracking(Tracking("logistics|x/0", 2))
        assert store.max_tracking_id("payment|x/0") == 9
        assert store.max_tracking_id("logistics|x/0") == 2

    def test_a_message_with_no_effect_still_records_its_position(self, store: EventStore) -> None:
        assert store.append(order_stream("SO-16"), 0, [], tracking=Tracking("order|y/0", 0)) == []
        assert store.has_tracking("order|y/0", 0)

    # -- notification log ----------------------------------------------------------------------

    def test_the_notification_log_lists_every_event_in_append_order(self, store: EventStore) -> None:
        first = store.append(order_stream("SO-17"), 0, [received("SO-17")])
        second = store.append(order_stream("SO-18"), 0, [received("SO-18"), released("SO-18")])
        log = store.notifications(first[0], 10)
        assert [e.notification_id for e in log] == first + second
        assert [(e.type, e.version) for e in log] == [
            ("OrderReceived", 1),
            ("OrderReceived", 1),
            ("OrderReleased", 2),
        ]
        assert store.max_notification_id() == second[-1]

    def test_the_notification_log_pages_and_filters_by_type(self, store: EventStore) -> None:
        ids = store.append(
            order_stream("SO-19"), 0, [received("SO-19"), released("SO-19"), released("SO-19")]
        )
        assert [e.notification_id for e in store.notifications(ids[0], 2)] == ids[:2]
        assert [e.notification_id for e in store.notifications(ids[1] + 1, 5)] == ids[2:]
        only_released = store.notifications(ids[0], 10, topics=["OrderReleased"])
        assert [e.notification_id for e in only_released] == ids[1:]

    def test_an_empty_log_has_no_max_notification_id(self, store: EventStore) -> None:
        assert store.max_notification_id() is None
        assert store.notifications(1, 10) == []

    # -- durability, encryption ----------------------------------------------------------------

    def test_events_survive_reopening_the_store(
        self, store: EventStore, reopen: Callable[..., EventStore]
    ) -> None:
        stream = order_stream("SO-20")
        store.append(stream, 0, [received("SO-20")], tracking=Tracking("order|z/0", 1))
        again = reopen()
        try:
            assert [e.type for e in again.read(stream)] == ["OrderReceived"]
            assert again.max_tracking_id("order|z/0") == 1
        finally:
            again.close()

    def test_a_cipher_keeps_the_stored_bytes_unreadable(self, reopen: Callable[..., EventStore]) -> None:
        secret = reopen(cipher=XorCipher(0x5A), clock=FakeClock(T0 + timedelta(days=1)))
        plain = reopen()
        try:
            stream = order_stream("SO-21")
            secret.append(stream, 0, [NewEvent("OrderReceived", {"buyerName": "张三"})])
            (raw,) = secret.recorder.select_events(stream)
            assert "张三".encode() not in raw.state
            assert secret.read(stream)[0].data == {"buyerName": "张三"}
            with pytest.raises(DecodeError):
                plain.read(stream)
        finally:
            secret.close()
            plain.close()

"""Key rotation on Postgres: the re-encryption job moves a service's events to the newest key."""

from __future__ import annotations

import uuid

import pytest
from cbec.privacy.cipher import AesGcmCipher, KeyRing, new_key
from cbec.privacy.reencrypt import reencrypt
from cbec.store.event_store import EventStore
from cbec.store.events import NewEvent

pytestmark = pytest.mark.integration


def test_the_job_reencrypts_every_event_and_old_key_is_no_longer_needed(database_url: str, pg_schema: str) -> None:
    k1, k2 = new_key(), new_key()
    old = AesGcmCipher(KeyRing.parse(f"k1:{k1}"))
    store = EventStore.open(database_url, schema=pg_schema, name="order", cipher=old)
    streams = [uuid.uuid4() for _ in range(5)]
    for stream in streams:
        store.append(stream, 0, [NewEvent("DocumentReceived", {"buyerName": "王某某"})])
    store.close()

    rotated = AesGcmCipher(KeyRing.parse(f"k2:{k2},k1:{k1}"))
    assert reencrypt(database_url, schema=pg_schema, name="order", cipher=rotated, batch=2) == 5
    assert reencrypt(database_url, schema=pg_schema, name="order", cipher=rotated) == 0

    newest_only = AesGcmCipher(KeyRing.parse(f"k2:{k2}"))
    store = EventStore.open(database_url, schema=pg_schema, name="order", cipher=newest_only)
    assert [store.read(s)[0].data["buyerName"] for s in streams] == ["王某某"] * 5
    store.close()

"""After a key rotation, a job moves every stored event to the newest key so the old one can retire."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from cbec.privacy.cipher import AesGcmCipher, CipherError, KeyRing, new_key
from cbec.privacy.reencrypt import reencrypt
from cbec.store.event_store import EventStore
from cbec.store.events import NewEvent

BUYER_ID = "310101199001011234"


def test_rotation_moves_every_event_to_the_new_key_and_the_old_key_can_retire(tmp_path: Path) -> None:
    k1, k2 = new_key(), new_key()
    url = f"sqlite:///{tmp_path / 'order.db'}"
    old = AesGcmCipher(KeyRing.parse(f"k1:{k1}"))
    store = EventStore.open(url, schema="order", name="order", cipher=old)
    streams = [uuid.uuid4() for _ in range(7)]
    for stream in streams:
        store.append(stream, 0, [NewEvent("DocumentReceived", {"buyerIdNumber": BUYER_ID})])
    store.close()

    rotated = AesGcmCipher(KeyRing.parse(f"k2:{k2},k1:{k1}"))
    assert reencrypt(url, schema="order", name="order", cipher=rotated, batch=3) == 7
    assert reencrypt(url, schema="order", name="order", cipher=rotated, batch=3) == 0  # idempotent

    newest_only = AesGcmCipher(KeyRing.parse(f"k2:{k2}"))
    store = EventStore.open(url, schema="order", name="order", cipher=newest_only)
    assert all(store.read(s)[0].data["buyerIdNumber"] == BUYER_ID for s in streams)
    store.close()

    with pytest.raises(CipherError):
        old.decrypt(newest_only.encrypt(b"x"))

"""Stored events are encrypted with the current key and stay readable after the key rotates."""

from __future__ import annotations

import base64
import uuid

import pytest
from cbec.privacy.cipher import AesGcmCipher, CipherError, KeyRing, new_key
from cbec.store import DecodeError, EventStore, NewEvent
from cbec_testkit.samples import declare_orders
from eventsourcing.persistence import ProcessRecorder

K1, K2 = new_key(), new_key()


def cipher(spec: str) -> AesGcmCipher:
    return AesGcmCipher(KeyRing.parse(spec))


def an_order_event() -> tuple[NewEvent, str]:
    document = declare_orders(1)[0].document
    return NewEvent("DocumentReceived", {"document": document}), document["OrderHead"]["buyerIdNumber"]


def stored_states(recorder: ProcessRecorder, stream_id: uuid.UUID) -> list[bytes]:
    return [bytes(s.state) for s in recorder.select_events(stream_id)]


def test_the_stored_state_holds_no_plaintext_id_number() -> None:
    store = EventStore.open("sqlite:///:memory:", schema="x", name="order", cipher=cipher(f"k1:{K1}"))
    event, id_number = an_order_event()
    stream = uuid.uuid4()
    store.append(stream, 0, [event])
    [state] = stored_states(store.recorder, stream)
    assert id_number.encode() not in state
    assert id_number.encode() not in base64.b64decode(base64.b64encode(state))
    assert "王".encode() not in state and b"buyerIdNumber" not in state
    assert store.read(stream)[0].data["document"]["OrderHead"]["buyerIdNumber"] == id_number


def test_events_written_before_a_rotation_still_read_and_new_ones_use_the_new_key() -> None:
    store = EventStore.open("sqlite:///:memory:", schema="x", name="order", cipher=cipher(f"k1:{K1}"))
    old, new = uuid.uuid4(), uuid.uuid4()
    event, id_number = an_order_event()
    store.append(old, 0, [event])
    rotated = cipher(f"k2:{K2},k1:{K1}")
    after = EventStore(store.recorder, cipher=rotated)
    after.append(new, 0, [event])
    assert after.read(old)[0].data["document"]["OrderHead"]["buyerIdNumber"] == id_number
    assert rotated.key_id(stored_states(store.recorder, new)[0]) == "k2"
    [old_state] = stored_states(store.recorder, old)
    assert rotated.needs_rotation(old_state)
    assert rotated.key_id(rotated.rotate(old_state)) == "k2"
    retired = EventStore(store.recorder, cipher=cipher(f"k2:{K2}"))
    with pytest.raises(DecodeError):
        retired.read(old)
    assert retired.read(new)[0].data == event.data


def test_a_tampered_or_relabelled_ciphertext_does_not_open() -> None:
    ring = cipher(f"k2:{K2},k1:{K1}")
    sealed = bytearray(ring.encrypt(b"secret"))
    sealed[-1] ^= 1
    with pytest.raises(CipherError):
        ring.decrypt(bytes(sealed))
    relabelled = bytearray(ring.encrypt(b"secret"))
    relabelled[3] = ord("1")  # header says k1, sealed under k2
    with pytest.raises(CipherError):
        ring.decrypt(bytes(relabelled))


def test_equal_plaintexts_give_different_ciphertexts() -> None:
    ring = cipher(f"k1:{K1}")
    assert ring.encrypt(b"same") != ring.encrypt(b"same")


@pytest.mark.parametrize("spec", ["", "k1", f"k1:{base64.b64encode(b'short').decode()}", "k1:not base64!"])
def test_a_bad_key_configuration_is_refused(spec: str) -> None:
    with pytest.raises(CipherError):
        KeyRing.parse(spec)


def test_keys_come_from_the_settings() -> None:
    from cbec.settings import Settings

    assert AesGcmCipher.from_spec(Settings.from_environ({}).pii.key_spec()) is None
    settings = Settings.from_environ({"CBEC_PII_KEYS": f"k2:{K2}, k1:{K1}"})
    loaded = AesGcmCipher.from_spec(settings.pii.key_spec())
    assert loaded is not None and loaded.ring.current == "k2" and set(loaded.ring.keys) == {"k1", "k2"}

"""SignerApp: batches in, results out, idempotent by request id, errors as codes."""

from __future__ import annotations

import base64

import pytest
from cbec.contracts.signing import SignRequest, SignResult
from cbec.signing.keys import BackendUnavailable
from cbec.signing.pool import KeyPool
from cbec.signing.registry import CertificateRegistry
from cbec.signing.sm2 import SoftwareSM2Key
from cbec.signing.xmldsig import verify_document
from ceb_samples import samples_dir
from signer_service.application import BACKEND_UNAVAILABLE, BAD_REQUEST, SignerApp

TENANT = "1101180326"  # the copCode in the official samples' BaseTransfer


def _request(request_id: str, xml: bytes | None = None, tenant: str = TENANT) -> SignRequest:
    xml = xml if xml is not None else (samples_dir() / "import" / "CEB311Message.xml").read_bytes()
    return SignRequest.for_xml(request_id, tenant, "CEB311", "ebp:order-1", xml)


@pytest.fixture
def app(sm2_key: SoftwareSM2Key) -> SignerApp:
    sample = (samples_dir() / "import" / "CEB311Message.xml").read_bytes()
    assert f"<ceb:copCode>{TENANT}</ceb:copCode>".encode() in sample
    registry = CertificateRegistry()
    registry.register(TENANT, sm2_key)
    return SignerApp(registry, threads=2)


def test_a_batch_is_signed_in_order(app: SignerApp) -> None:
    results = app.handle_batch([_request(f"r{i}") for i in range(5)])
    assert [r.request_id for r in results] == [f"r{i}" for i in range(5)]
    assert all(r.ok and verify_document(r.signed_xml()).ok for r in results)
    assert (results[0].tenant, results[0].doc_type, results[0].clearance_key) == (TENANT, "CEB311", "ebp:order-1")


def test_a_repeated_request_gets_the_same_result_without_signing_again(app: SignerApp) -> None:
    first = app.handle_batch([_request("same")])[0]
    again = app.handle_batch([_request("same"), _request("same")])
    assert again == [first, first]  # SM2 signatures are randomised: equality proves no re-signing
    assert app.metrics.signs == 1
    assert app.metrics.duplicates == 2


def test_refusals_come_back_as_error_codes(app: SignerApp) -> None:
    bad_b64 = SignRequest("b64", TENANT, "CEB311", "k", "***")
    other_tenant = _request("tenant", tenant="4401999999")
    receipt = _request("receipt", (samples_dir() / "import" / "CEB312Message.xml").read_bytes())
    results = {r.request_id: r for r in app.handle_batch([bad_b64, other_tenant, receipt])}
    assert results["b64"].error is not None and results["b64"].error.code == BAD_REQUEST
    assert results["tenant"].error is not None and results["tenant"].error.code == "CBEC-SIG-TENANT"
    assert results["receipt"].error is not None and results["receipt"].error.code == "CBEC-SIG-ROOT"
    assert not any(r.ok for r in results.values())
    assert app.metrics.errors == {BAD_REQUEST: 1, "CBEC-SIG-TENANT": 1, "CBEC-SIG-ROOT": 1}


def test_a_backend_outage_is_not_cached_so_a_redelivery_succeeds(sm2_key: SoftwareSM2Key) -> None:
    class Switch:
        down = False

    class Session:
        algorithm = sm2_key.algorithm
        certificate_der = sm2_key.certificate_der
        serial_hex = sm2_key.serial_hex

        def sign(self, data: bytes) -> bytes:
            if Switch.down:
                raise BackendUnavailable("HSM unreachable")
            return sm2_key.sign(data)

    registry = CertificateRegistry()
    registry.register(TENANT, KeyPool(Session, size=1, max_attempts=2, retry_backoff=0))
    app = SignerApp(registry)
    Switch.down = True
    failed = app.handle(_request("r1"))
    assert failed.error is not None and failed.error.code == BACKEND_UNAVAILABLE
    Switch.down = False
    assert app.handle(_request("r1")).ok


def test_results_round_trip_through_json(app: SignerApp) -> None:
    for result in app.handle_batch([_request("ok"), _request("bad", tenant="nobody")]):
        assert SignResult.from_json(result.to_json()) == result


def test_verify_reports_on_a_signed_document(app: SignerApp) -> None:
    signed = app.handle(_request("v")).signed_xml()
    assert app.verify(signed, registered_only=True).ok
    tampered = signed.replace(b"<ceb:orderNo>", b"<ceb:orderNo>0", 1)
    assert app.verify(tampered).code == "CBEC-SIG-DIGEST"
    assert base64.b64decode(_request("x").xml_b64)


def test_an_unexpected_backend_exception_fails_only_that_request(sm2_key: SoftwareSM2Key) -> None:
    class Exploding:
        algorithm = sm2_key.algorithm
        certificate_der = sm2_key.certificate_der
        serial_hex = sm2_key.serial_hex
        calls = 0

        def sign(self, data: bytes) -> bytes:
            Exploding.calls += 1
            if Exploding.calls == 2:
                raise RuntimeError("token said something odd")
            return sm2_key.sign(data)

    registry = CertificateRegistry()
    registry.register(TENANT, Exploding())
    app = SignerApp(registry)
    results = app.handle_batch([_request("a"), _request("b"), _request("c")])
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].error is not None and results[1].error.code == "CBEC-SIG-INTERNAL"
    assert app.handle(_request("b")).ok  # not cached: a redelivery is signed

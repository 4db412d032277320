"""The sign request/result JSON contract."""

from __future__ import annotations

import pytest
from cbec.contracts.signing import ContractError, SignError, SignRequest, SignResult


def test_request_round_trips_and_omits_an_unset_profile() -> None:
    request = SignRequest.for_xml("r1", "3301961234", "CEB311", "ebp:o1", "<x>中</x>".encode())
    assert SignRequest.from_json(request.to_json()) == request
    assert b"profile" not in request.to_json()
    assert request.xml() == "<x>中</x>".encode()
    with_profile = SignRequest("r2", "t", "CEB621", "k", "eA==", "eport-client")
    assert SignRequest.from_json(with_profile.to_json()).profile == "eport-client"


def test_failure_result_carries_code_and_message() -> None:
    result = SignResult("r1", "t", "CEB311", "k", False, error=SignError("-625013", "not the holder"))
    data = result.to_dict()
    assert data["error"] == {"code": "-625013", "message": "not the holder"}
    assert "signed_xml_b64" not in data
    assert SignResult.from_json(result.to_json()) == result


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b'{"request_id": "r"}',
        b'{"request_id": 1, "tenant": "t", "doc_type": "d", "clearance_key": "k", "xml_b64": "eA=="}',
    ],
)
def test_malformed_requests_are_rejected(raw: bytes) -> None:
    with pytest.raises(ContractError):
        SignRequest.from_json(raw)


def test_non_base64_xml_is_a_contract_error() -> None:
    with pytest.raises(ContractError):
        SignRequest("r", "t", "d", "k", "@@@").xml()

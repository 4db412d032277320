"""Stories of reading the saga's commands: what is accepted and what is dead-lettered, named."""

from __future__ import annotations

import json

import pytest
from cbec.contracts.base import ContractError
from cbec.contracts.saga import SagaCommand


def test_a_release_command_is_read_with_its_key() -> None:
    raw = json.dumps({"command": "ReleaseDocument", "docType": "CEB511", "businessKey": ["3105960003", "LN1"],
                      "clearanceKey": "3105960001:O1", "commandId": "c1", "streamId": "ignored"}).encode()
    command = SagaCommand.from_json(raw)
    assert (command.command, command.doc_type, command.business_key) == ("ReleaseDocument", "CEB511",
                                                                         ("3105960003", "LN1"))


def test_a_refusal_carries_the_sagas_errors() -> None:
    error = {"code": "-623005", "path": "InvtCancel.invtNo", "rule": "state", "message": "no"}
    raw = json.dumps({"command": "RefuseDocument", "docType": "CEB623", "businessKey": ["a", "b"],
                      "commandId": "c2", "errors": [error]}).encode()
    assert SagaCommand.from_json(raw).errors[0].to_dict() == error


@pytest.mark.parametrize(("body", "path"), [
    ({"command": "Nope"}, "command"),
    ({"command": "LockClearance"}, "clearanceKey"),
    ({"command": "ReleaseDocument", "businessKey": ["a"]}, "docType"),
    ({"command": "ResendDocument", "docType": "CEB411", "businessKey": []}, "businessKey"),
    ({"command": "RefuseDocument", "docType": "CEB623", "businessKey": ["a", "b"]}, "errors"),
])
def test_an_incomplete_command_is_rejected_naming_the_field(body: dict[str, object], path: str) -> None:
    with pytest.raises(ContractError) as rejected:
        SagaCommand.from_json(json.dumps(body).encode())
    assert rejected.value.errors[0].path == path

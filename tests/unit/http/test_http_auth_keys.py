"""API keys authenticate their tenant and are never stored in the clear."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cbec.auth.keys import ApiKeyRegistry, issue_key, main


def test_an_issued_key_authenticates_its_tenant_and_only_its_hash_is_kept() -> None:
    key, record = issue_key("3105960001", "platform prod")
    registry = ApiKeyRegistry([record])
    assert registry.authenticate(key) == "3105960001"
    stored = json.dumps(registry.to_json())
    secret = key.split("_", 2)[2]  # cbec_<keyId>_<secret>; the secret itself may hold "_"
    assert key not in stored and secret not in stored


def test_a_wrong_secret_or_a_foreign_shape_is_refused() -> None:
    key, record = issue_key("3105960001")
    registry = ApiKeyRegistry([record])
    assert registry.authenticate(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert registry.authenticate("not-a-key") is None
    assert registry.authenticate("") is None


def test_two_keys_of_one_tenant_have_different_salts() -> None:
    _, first = issue_key("3105960001")
    _, second = issue_key("3105960001")
    assert first.salt != second.salt and first.hash != second.hash


def test_the_registry_loads_from_a_file_or_inline_json_as_configured(tmp_path: Path) -> None:
    from cbec.settings import Settings

    def registry(environ: dict[str, str]) -> ApiKeyRegistry:
        keys = Settings.from_environ(environ).api_keys
        return ApiKeyRegistry.load(keys.file, keys.inline.get_secret_value() if keys.inline else None)

    key, record = issue_key("3105960003")
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(ApiKeyRegistry([record]).to_json()))
    assert registry({"CBEC_API_KEYS_FILE": str(path)}).authenticate(key) == "3105960003"
    assert len(registry({})) == 0
    assert registry({"CBEC_API_KEYS": path.read_text()}).authenticate(key) == "3105960003"


def test_the_issue_command_prints_the_key_once_and_a_loadable_record(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["issue", "3105960002", "payments"]) == 0
    first, second = capsys.readouterr().out.strip().splitlines()
    key = first.split(": ", 1)[1]
    assert ApiKeyRegistry.from_json([json.loads(second)]).authenticate(key) == "3105960002"

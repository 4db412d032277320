"""A tenant's callback URL is called only when it is https (http in development) and every address
its host resolves to is public: checked when the registry is loaded."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from cbec.net.callbacks import CallbackGuard, CallbackRefused, address_problem
from cbec.production import UnsafeForProduction
from cbec.settings import Settings
from cbec.tenants_config import load_tenants


class FakeDns:
    """Answers from a table; each host's answers are given in turn (the last one repeats)."""

    def __init__(self, table: dict[str, list[list[str]]]) -> None:
        self.table = table
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        answers = self.table.get(host)
        if not answers:
            raise OSError(f"{host}: name does not resolve")
        return answers.pop(0) if len(answers) > 1 else answers[0]


DNS = {
    "platform.example": [["8.8.8.8"]],
    "localhost.attacker.example": [["127.0.0.1"]],
    "db.internal.example": [["192.168.1.5"]],
    "mixed.example": [["8.8.8.8", "10.0.0.7"]],
    "v6.example": [["2606:4700::1111"]],
    "ula.example": [["fd12:3456::1"]],
}


def guard(production: bool = True) -> CallbackGuard:
    return CallbackGuard(production=production, resolver=FakeDns({k: list(v) for k, v in DNS.items()}))


@pytest.mark.parametrize("url, rule", [
    ("file:///etc/passwd", "scheme 'file'"),
    ("gopher://platform.example:70/_stats", "scheme 'gopher'"),
    ("ftp://platform.example/hooks", "only http(s)"),
    ("platform.example/hooks", "scheme '(none)'"),
    ("http://platform.example/hooks", "only https in production"),
    ("https://127.0.0.1/hooks", "loopback"),
    ("https://127.0.0.1:5432/", "loopback"),
    ("https://10.1.2.3/hooks", "private"),
    ("https://172.16.0.1/hooks", "private"),
    ("https://192.168.0.1/hooks", "private"),
    ("https://169.254.169.254/latest/meta-data/", "metadata"),
    ("https://100.100.100.200/latest/meta-data/", "metadata"),
    ("https://[fd00:ec2::254]/latest", "metadata"),
    ("https://[::1]/hooks", "loopback"),
    ("https://[::ffff:127.0.0.1]/hooks", "loopback"),
    ("https://[64:ff9b::a00:1]/hooks", "private"),
    ("https://[fe80::1]/hooks", "link-local"),
    ("https://224.0.0.1/hooks", "multicast"),
    ("https://0.0.0.0/hooks", "unspecified"),
    ("https://localhost.attacker.example/hooks", "loopback"),
    ("https://db.internal.example/hooks", "private"),
    ("https://ula.example/hooks", "private"),
    ("https://mixed.example/hooks", "10.0.0.7 is a private"),
    ("https://user:pw@platform.example/hooks", "credentials"),
    ("https:///hooks", "no host"),
    ("https://nowhere.example/hooks", "does not resolve"),
])
def test_a_bad_callback_url_is_refused_naming_the_rule(url: str, rule: str) -> None:
    with pytest.raises(CallbackRefused, match=rule.replace("(", r"\(").replace(")", r"\)")):
        guard().resolve(url)


def test_a_public_https_callback_is_accepted_with_its_addresses() -> None:
    target = guard().resolve("https://platform.example/cbec/status?x=1")
    assert target.addresses == ("8.8.8.8",)
    assert target.pinned_url() == "https://8.8.8.8:443/cbec/status?x=1"
    assert target.host_header == "platform.example"
    assert guard().resolve("https://v6.example:8443/h").pinned_url() == "https://[2606:4700::1111]:8443/h"


def test_http_is_accepted_in_development_only() -> None:
    assert guard(production=False).resolve("http://platform.example/hooks").port == 80
    with pytest.raises(CallbackRefused):
        guard(production=False).resolve("http://127.0.0.1/hooks")
    with pytest.raises(CallbackRefused, match="scheme 'file'"):
        guard(production=False).resolve("file:///etc/passwd")


@pytest.mark.parametrize("address", ["203.0.113.10", "192.0.2.1", "198.51.100.1", "100.64.0.1", "240.0.0.1"])
def test_reserved_and_shared_spaces_are_not_public(address: str) -> None:
    assert address_problem(address) is not None
    assert address_problem("8.8.8.8") is None and address_problem("2606:4700::1111") is None


def _registry(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "tenants.json"
    path.write_text(json.dumps([
        {"customsCode": "3105960001", "name": "platform", "roles": ["platform"], "dxpId": "DXPENT0000000001",
         "callbackUrl": url},
        {"customsCode": "3105960002", "name": "payer", "roles": ["payment"], "dxpId": "DXPENT0000000002",
         "callbackUrl": "https://platform.example/pay"},
    ]), encoding="utf-8")
    return path


def test_production_refuses_to_start_on_a_registry_with_a_bad_callback(tmp_path: Path) -> None:
    settings = Settings.from_environ({"CBEC_ENV": "production",
                                      "CBEC_TENANTS_FILE": str(_registry(tmp_path, "https://127.0.0.1:5432/"))})
    with pytest.raises(UnsafeForProduction, match="tenant 3105960001: callbackUrl refused"):
        load_tenants(settings, resolver=FakeDns(DNS))


def test_development_warns_and_disables_only_that_callback(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings.from_environ({"CBEC_TENANTS_FILE": str(_registry(tmp_path, "file:///etc/passwd"))})
    with caplog.at_level(logging.WARNING):
        tenants = load_tenants(settings, resolver=FakeDns({k: list(v) for k, v in DNS.items()}))
    assert tenants.get("3105960001").callback_url == ""
    assert tenants.get("3105960002").callback_url == "https://platform.example/pay"
    assert "3105960001: callbackUrl refused" in caplog.text


def test_a_host_that_does_not_resolve_at_load_is_left_to_the_send_time_check(tmp_path: Path) -> None:
    settings = Settings.from_environ({"CBEC_ENV": "production",
                                      "CBEC_TENANTS_FILE": str(_registry(tmp_path, "https://later.example/h"))})
    assert load_tenants(settings, resolver=FakeDns({})).get("3105960001").callback_url == "https://later.example/h"

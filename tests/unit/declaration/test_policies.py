"""Each owning service states the rules of every document type it owns; shared code only asks.

The tables below are the rules as customs words them (ceb-formats §2 and §8): who may send a type,
the code refusing a second version while customs has not answered, the code refusing a change once
the clearance's list is declared, and what the saga holds at intake.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import cbec.declaration
import inventory_service.domain
import logistics_service.domain
import order_service.domain
import payment_service.domain
import pytest
from cbec.declaration.doctypes import ALL
from cbec.declaration.policy import DocumentPolicy
from cbec.tenants import Role

SERVICES = {
    "order": order_service.domain,
    "payment": payment_service.domain,
    "logistics": logistics_service.domain,
    "inventory": inventory_service.domain,
}
POLICIES: dict[str, DocumentPolicy] = {p.code: p for m in SERVICES.values() for p in m.POLICIES}
SHARED = Path(cbec.declaration.__file__).resolve().parent  # the shared lifecycle engine


def test_every_document_type_is_owned_by_exactly_one_service_which_states_its_rules() -> None:
    owners = [(p.code, name) for name, m in SERVICES.items() for p in m.POLICIES]
    assert sorted(code for code, _ in owners) == sorted(d.code for d in ALL)
    for code, name in owners:
        assert POLICIES[code].doc_type.service == name == SERVICES[name].SERVICE
        assert POLICIES[code].sender_roles and POLICIES[code].sender_code_fields
    for module in SERVICES.values():
        assert module.DOC_TYPES == [p.doc_type for p in module.POLICIES]


@pytest.mark.parametrize(("code", "roles", "fields"), [
    ("CEB311", {Role.PLATFORM, Role.ECOMMERCE}, ("ebcCode", "ebpCode")),
    ("CEB411", {Role.PAYMENT}, ("payCode",)),
    ("CEB511", {Role.LOGISTICS}, ("logisticsCode",)),
    ("CEB513", {Role.LOGISTICS}, ("logisticsCode",)),
    ("CEB621", {Role.ECOMMERCE, Role.DECLARANT}, ("agentCode",)),
    ("CEB623", {Role.ECOMMERCE, Role.DECLARANT}, ("agentCode",)),
    ("CEB625", {Role.ECOMMERCE, Role.DECLARANT}, ("agentCode",)),
    ("CEB711", {Role.SITE_OPERATOR}, ("operatorCode",)),
    ("CEB303", {Role.PLATFORM, Role.ECOMMERCE}, ("ebcCode", "ebpCode")),
    ("CEB403", {Role.ECOMMERCE, Role.PLATFORM}, ("ebcCode", "ebpCode")),
    ("CEB505", {Role.LOGISTICS}, ("logisticsCode",)),
    ("CEB507", {Role.SITE_OPERATOR}, ("operatorCode",)),
    ("CEB509", {Role.LOGISTICS}, ("logisticsCode",)),
    ("CEB607", {Role.DECLARANT, Role.LOGISTICS}, ("agentCode",)),
    ("CEB603", {Role.ECOMMERCE, Role.DECLARANT}, ("agentCode",)),
    ("CEB605", {Role.ECOMMERCE, Role.DECLARANT}, ("agentCode",)),
    ("CEB213", {Role.ECOMMERCE, Role.DECLARANT}, ("agentCode",)),
    ("CEB215", {Role.SITE_OPERATOR}, ("operatorCode",)),
    ("CEB701", {Role.ECOMMERCE, Role.DECLARANT}, ("agentCode",)),
])
def test_who_may_send_each_type(code: str, roles: set[Role], fields: tuple[str, ...]) -> None:
    assert (set(POLICIES[code].sender_roles), POLICIES[code].sender_code_fields) == (roles, fields)


@pytest.mark.parametrize(("code", "in_flight", "locked", "no_change", "deletable", "held"), [
    ("CEB311", "-301010", "-301011", None, True, False),
    ("CEB411", "-401007", "-401008", None, True, False),
    ("CEB511", "-504012", "-504016", None, True, True),
    ("CEB513", "-505012", None, None, False, False),
    ("CEB621", "-621004", None, ("-621011", "-621012"), False, True),
    ("CEB623", "CBEC-2001", None, ("CBEC-2003", "-621012"), False, True),
    ("CEB625", "CBEC-2001", None, None, True, True),
    ("CEB711", "CBEC-2001", None, None, False, True),
    # Export: customs' export ranges (ceb-formats §4.1) hold the import order/payment/waybill codes; for the
    # rest they name no code, so cbec's own apply. Only the order and the collection go at once.
    ("CEB303", "-301010", "-301011", None, True, False),
    ("CEB403", "-401007", "-401008", None, True, False),
    ("CEB505", "-504012", "-504016", None, True, True),
    ("CEB507", "CBEC-2001", None, None, False, True),
    ("CEB509", "CBEC-2001", None, None, False, True),
    ("CEB607", "CBEC-2001", None, None, False, True),
    ("CEB603", "CBEC-2001", None, ("CBEC-2003", "CBEC-2003"), False, True),
    ("CEB605", "CBEC-2001", None, ("CBEC-2003", "CBEC-2003"), False, True),
    ("CEB213", "CBEC-2001", None, None, True, True),
    ("CEB215", "CBEC-2001", None, None, False, True),
    ("CEB701", "CBEC-2001", None, ("CBEC-2003", "CBEC-2003"), False, True),
])
def test_how_each_type_may_change_and_whether_the_saga_releases_it(
    code: str, in_flight: str, locked: str | None, no_change: tuple[str, str] | None, deletable: bool, held: bool
) -> None:
    p = POLICIES[code]
    assert (p.in_flight_code, p.locked_code, p.deletable, p.held_at_intake) == (in_flight, locked, deletable, held)
    released = p.no_change_released_code or p.no_change_code
    assert (None if p.no_change_code is None else (p.no_change_code, released)) == no_change
    assert p.new_only == (code in ("CEB623", "CEB605"))  # a cancel is only ever declared new


def _string_literals(path: Path) -> list[str]:
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
    return [t.string for t in tokens if t.type == tokenize.STRING and not t.string.startswith(('"""', "'''"))]


def test_no_shared_declaration_module_names_a_document_type() -> None:
    """Per-type rules live in the owning services: shared code holds no message code but the type
    descriptors themselves and customs' format-error receipt (CEB900), which answers any type."""
    allowed = {("doctypes.py",), ("statuses.py", '"CEB900"')}
    found = [(path.name, literal) for path in sorted(SHARED.glob("*.py")) for literal in _string_literals(path)
             if re.search(r"CEB\d{3}", literal) and (path.name,) not in allowed and (path.name, literal) not in allowed]
    assert found == []

"""The published schemas: each is a valid draft 2020-12 schema, generated ones follow the CEB tables,
and every AsyncAPI reference resolves to a schema that exists."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from cbec.ceb import codec
from cbec.contracts import schema_gen, topics
from cbec.contracts.schema_check import ASYNCAPI_FILE, SCHEMA_DIR, errors_of, load_schema, schema_files
from cbec_testkit.samples import messages as ex
from ceb_samples import samples_dir
from jsonschema import Draft202012Validator


@pytest.mark.parametrize("path", schema_files(), ids=lambda p: p.relative_to(SCHEMA_DIR).as_posix())
def test_every_schema_is_a_valid_draft_2020_12_schema(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(path.relative_to(SCHEMA_DIR).as_posix())


def test_generated_schemas_are_up_to_date_with_the_ceb_tables() -> None:
    stale = [
        rel
        for rel, schema in schema_gen.generated().items()
        if not (SCHEMA_DIR / rel).exists() or json.loads((SCHEMA_DIR / rel).read_text("utf-8")) != schema
    ]
    assert stale == [], "run scripts/gen_contract_schemas.py"


def test_the_decimal_pattern_follows_total_and_fraction_digits() -> None:
    pattern = re.compile(schema_gen.decimal_pattern(19, 5))
    assert pattern.match("12345678901234.12345") and pattern.match("1234567890123456789")
    assert not pattern.match("123456789012345.12345")  # 20 digits
    assert not pattern.match("1.123456") and not pattern.match("1,5") and not pattern.match("")


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _pointer(document: Any, fragment: str) -> Any:
    for part in [p for p in fragment.lstrip("/").split("/") if p]:
        document = document[part.replace("~1", "/").replace("~0", "~")]
    return document


def test_every_asyncapi_reference_resolves() -> None:
    spec = yaml.safe_load(ASYNCAPI_FILE.read_text(encoding="utf-8"))
    assert spec["asyncapi"].startswith("3.")
    refs = _refs(spec)
    assert len(refs) > 40
    for ref in refs:
        target, _, fragment = ref.partition("#")
        if target:
            document = json.loads((ASYNCAPI_FILE.parent / target).read_text(encoding="utf-8"))
            Draft202012Validator.check_schema(document)
        else:
            document = spec
        assert _pointer(document, fragment) is not None, ref


def test_every_schema_file_ref_resolves_inside_the_schema_folder() -> None:
    for path in schema_files():
        for ref in _refs(json.loads(path.read_text(encoding="utf-8"))):
            target, _, fragment = ref.partition("#")
            document = (
                json.loads((path.parent / target).read_text("utf-8"))
                if target
                else json.loads(path.read_text("utf-8"))
            )
            assert _pointer(document, fragment) is not None, f"{path.name}: {ref}"


def test_asyncapi_lists_every_public_topic() -> None:
    spec = yaml.safe_load(ASYNCAPI_FILE.read_text(encoding="utf-8"))
    addresses = {c["address"] for c in spec["channels"].values()}
    assert addresses >= {
        "cbec.in.order",
        "cbec.in.payment",
        "cbec.in.waybill",
        "cbec.in.waybill-status",
        "cbec.in.inventory",
        "cbec.in.cancel",
        "cbec.in.return",
        "cbec.in.entry",
        "cbec.in.goods-left",
        "cbec.{service}.events",
        "cbec.dlq.{service}",
        "cbec.out.status",
        "cbec.sign.requests",
        "cbec.sign.results",
        *(f"cbec.feedback.{{service}}.{kind}" for kind in topics.FEEDBACK_KINDS),
    }
    services = spec["components"]["parameters"]["service"]["enum"]
    assert services == ["order", "payment", "logistics", "inventory"] == list(topics.DECLARATION_SERVICES)


def test_asyncapi_names_the_topics_the_code_uses() -> None:
    """Every concrete topic of cbec.contracts.topics matches one channel address (a {parameter} stands for
    one dotted name part): a topic added or renamed in the code and not in the contract fails here."""
    spec = yaml.safe_load(ASYNCAPI_FILE.read_text(encoding="utf-8"))
    patterns = [re.compile("^" + re.sub(r"\\\{[a-zA-Z]+\\\}", r"[^.]+", re.escape(c["address"])) + "$")
                for c in spec["channels"].values()]
    used = [*topics.INTAKE_TOPICS, topics.GOODS_LEFT, topics.SIGN_REQUESTS, topics.SIGN_RESULTS, topics.STATUS,
            topics.SIGNER_DEAD_LETTERS, topics.WEBHOOK_DEAD_LETTERS, topics.NOTIFICATION_CIRCUITS,
            *topics.SERVICE_EVENTS, *topics.FEEDBACK_TOPICS,
            *(topics.dead_letters(s) for s in topics.DECLARATION_SERVICES),
            topics.tenant_intake(topics.IN_ORDER, "3105960001"), topics.tenant_goods_left("3105960001"),
            topics.tenant_status("3105960001")]
    assert [t for t in used if not any(p.match(t) for p in patterns)] == []


def _examples() -> list[tuple[str, dict[str, Any]]]:
    docs = [("CEB311", ex.order_doc(lines=2)), ("CEB621", ex.inventory_doc())]
    for message in (ex.payment_message(), ex.logistics_message(), ex.cancel_message(), ex.refund_message()):
        docs += [(message.type, d) for d in message.docs]
    for name in ("CEB513Message.xml", "CEB711Message.xml"):
        message = codec.parse((samples_dir() / "import" / name).read_bytes(), strict=False)
        docs += [(message.type, d) for d in message.docs]
    for code in ("CEB303", "CEB403", "CEB505", "CEB507", "CEB603", "CEB605", "CEB213", "CEB215", "CEB701"):
        message = codec.parse((samples_dir() / "export" / f"{code}Message.xml").read_bytes(), strict=False)
        docs += [(message.type, d) for d in message.docs]
    # The 2022 samples have no departure and no master bill.
    transport = {"customsCode": "5165", "copNo": "C1", "logisticsCode": "3105960003", "logisticsName": "物流",
                 "trafMode": "5", "trafName": "飞机", "voyageNo": "CZ465", "billNo": "B1", "msgCount": "1",
                 "msgSeqNo": "1"}
    docs.append(("CEB509", {"DepartureHead": {**transport, "leaveTime": "20261201120000"},
                            "DepartureList": [{"gnum": "1", "logisticsNo": "L1"}]}))
    docs.append(("CEB607", {"WayBillHead": {**transport, "agentCode": "3105960004", "agentName": "申报",
                                            "grossWeight": "1.5"},
                            "WayBillList": [{"gnum": "1", "logisticsNo": "L1", "invtNo": "51652026E000000001"}]}))
    return docs


def test_each_doc_type_has_an_example_that_validates() -> None:
    examples = _examples()
    assert {code for code, _ in examples} == set(schema_gen.DOC_TYPES)
    for code, document in examples:
        assert errors_of(f"documents/{code}.json", document) == [], code


def test_the_head_fields_the_platform_fills_are_optional_but_business_fields_are_not() -> None:
    head = load_schema("documents/CEB311.json")["$defs"]["OrderHead"]
    assert not {"guid", "appType", "appTime", "appStatus"} & set(head["required"])
    assert {"orderNo", "ebpCode", "buyerIdNumber", "acturalPaid"} <= set(head["required"])
    assert head["properties"]["currency"]["const"] == "142"

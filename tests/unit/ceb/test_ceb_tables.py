"""The field tables are generated from the official XSDs and kept in sync with them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cbec.ceb.compiled import root_for
from cbec.ceb.spec import F
from cbec.ceb.tables import EXPORT, IMPORT
from cbec.ceb.xsd import official_schema

REPO = Path(__file__).resolve().parents[3]


def test_generated_tables_match_the_generator_output() -> None:
    script = REPO / "scripts" / "gen_ceb_tables.py"
    result = subprocess.run([sys.executable, str(script), "--check"], check=False)
    assert result.returncode == 0, "run scripts/gen_ceb_tables.py: tables.py is stale"


def test_tables_keep_the_chinese_descriptions_and_facets() -> None:
    head = {f.name: f for f in IMPORT.nodes["OrderHead"].items if isinstance(f, F)}
    assert "订单" in head["orderNo"].desc
    assert head["currency"].fixed == "142"
    assert head["goodsValue"].total_digits == 19 and head["goodsValue"].fraction_digits == 5


def test_signature_cardinality_and_position_come_from_the_xsds() -> None:
    assert root_for("CEB621").node.by_name["Signature"].min_occurs == 1
    assert root_for("CEB311").node.by_name["Signature"].min_occurs == 0
    imp = [i.name for i in root_for("CEB311").node.items]
    exp = [i.name for i in root_for("CEB303").node.items]
    assert imp[-2:] == ["ExtendMessage", "Signature"] and exp[-2:] == ["Signature", "ExtendMessage"]


def test_official_schemas_load_offline() -> None:
    assert official_schema("import") is official_schema("import")
    assert len(EXPORT.roots) == 23 and len(IMPORT.roots) == 19

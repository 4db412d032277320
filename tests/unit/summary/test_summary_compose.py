"""`cbec summary compose`: a consignor's released lists of a month become its CEB701 summaries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cbec.ceb import codec
from cbec.ceb.model import CebMessage
from cbec.ceb.xsd import xsd_errors
from cbec_cli.main import app
from cbec_cli.summary import ComposeError, ReleasedList, compose, month_period
from cbec_testkit.samples.export import SELLER, ExportClearance, inventory_document
from cbec_testkit.samples.messages import BASE_TRANSFER
from typer.testing import CliRunner

DECEMBER = month_period("2026-12")


def _released(n: int, *, at: str = "20261205100000123", owner: str = SELLER, ebc: str = SELLER,
              flag: str = "B") -> ReleasedList:
    document = inventory_document(ExportClearance(n, "9610"))
    document["InventoryHead"].update(ownerCode=owner, ebcCode=ebc, statisticsFlag=flag)
    return ReleasedList(f"51652026E{n:09d}", at, document)


def _numbers(summary: dict[str, Any]) -> list[str]:
    return [line["invtNo"] for line in summary["SummaryApplyList"]]


def test_by_consignor_one_summary_names_the_sellers_lists_released_that_month_in_release_order() -> None:
    lists = [_released(2, at="20261210000000000"), _released(1), _released(3, at="20261101000000000"),
             _released(4, ebc="3105960099"), _released(5, flag="A"), _released(1)]
    [summary] = compose(lists, ebc_code=SELLER, start=DECEMBER[0], end=DECEMBER[1], cop_no="SUM202612")
    assert _numbers(summary) == ["51652026E000000001", "51652026E000000002"]
    head = summary["SummaryApplyHead"]
    assert (head["summaryFlag"], head["itemNameFlag"], head["startTime"], head["endTime"]) == \
        ("1", "1", "20261201000000", "20261231235959")


def test_by_consignor_and_producer_each_producer_gets_its_own_summary() -> None:
    lists = [_released(1, owner="3105960011"), _released(2, owner="3105960012"), _released(3, owner="3105960011")]
    summaries = compose(lists, ebc_code=SELLER, start=DECEMBER[0], end=DECEMBER[1], cop_no="S1", summary_flag="2")
    assert [_numbers(s) for s in summaries] == [["51652026E000000001", "51652026E000000003"],
                                                ["51652026E000000002"]]
    assert [s["SummaryApplyHead"]["copNo"] for s in summaries] == ["S1", "S1-2"]


def test_a_composed_summary_is_xsd_valid_once_the_platform_fills_its_head() -> None:
    [summary] = compose([_released(1)], ebc_code=SELLER, start=DECEMBER[0], end=DECEMBER[1], cop_no="S1")
    summary["SummaryApplyHead"] = {"guid": "A" * 36, "appType": "1", "appTime": "20261231235959", "appStatus": "2",
                                   **summary["SummaryApplyHead"]}
    xml = codec.build(CebMessage(type="CEB701", docs=[summary], guid="B" * 36, base_transfer=dict(BASE_TRANSFER)))
    assert xsd_errors(xml, "export") == []


@pytest.mark.parametrize("options,field", [({"summary_flag": "3"}, "summaryFlag"),
                                           ({"item_name_flag": ""}, "itemNameFlag"),
                                           ({"start": "20261231000000", "end": "20261201000000"}, "startTime")])
def test_bad_options_are_refused_naming_the_field(options: dict[str, str], field: str) -> None:
    arguments: dict[str, Any] = {"ebc_code": SELLER, "start": DECEMBER[0], "end": DECEMBER[1], "cop_no": "S1",
                                 **options}
    with pytest.raises(ComposeError, match=field):
        compose([_released(1)], **arguments)


def test_the_command_writes_declare_bodies_and_refuses_a_list_without_its_number(tmp_path: Path) -> None:
    good = [{"invtNo": x.invt_no, "releasedAt": x.released_at, "document": x.document} for x in (_released(1),)]
    (tmp_path / "lists.json").write_text(json.dumps(good, ensure_ascii=False), encoding="utf-8")
    runner = CliRunner()
    args = ["summary", "compose", "--lists", str(tmp_path / "lists.json"), "--ebc", SELLER, "--month", "2026-12",
            "--cop-no", "S1", "--sender", "3105960004", "--out", str(tmp_path / "out.json")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    [body] = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert (body["docType"], body["sender"], _numbers(body["document"])) == ("CEB701", "3105960004",
                                                                            ["51652026E000000001"])
    (tmp_path / "lists.json").write_text(json.dumps([{**good[0], "invtNo": ""}]), encoding="utf-8")
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "lists[0].invtNo" in result.output

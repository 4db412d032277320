"""The XML catalogue (xml_catalogue.py) against the two places cbec reads XML files from outside.

``cbec validate``: every input ends in exit code 1 with one coded finding per line
(``FILE: <where>: <message> [<code>]``), or 0 for a valid document; never a traceback.

The customs link's inbox: every hostile file dropped in the DXP inbox is recorded as refused with a
coded reason (or read, when a mutation left it a readable receipt); the poller never crashes, and a
good receipt dropped after all of them is still recorded.

Both fail above the memory bound (counts.MEMORY_BOUND_BYTES) and record their counts.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from cbec.customs.filedrop import FileDropLink
from cbec_cli.main import app as cli
from cbec_testkit.memory import InMemoryDeclarationStore
from cbec_testkit.tenants import demo_registry
from counts import MEMORY_BOUND_BYTES, peak_growth_bytes, record, reset_peak
from receipts_service.application import (
    RECEIPT_FILE_INGESTED,
    RECEIPT_FILE_REJECTED,
    CustomsLinkApp,
)
from typer.testing import CliRunner
from xml_catalogue import Hostile, crafted, mutations, sample

MUTATIONS = 4_200  # with the 181 crafted inputs: 4,381 files, each to both readers
CODED = re.compile(r"\[[A-Za-z0-9-]+\]")


def catalogue() -> Iterator[Hostile]:
    yield from crafted()
    yield from mutations(MUTATIONS)


def test_cbec_validate_answers_every_hostile_file_with_coded_lines_never_a_traceback(tmp_path: Path) -> None:
    reset_peak()
    runner = CliRunner()
    path = tmp_path / "input.xml"
    outcomes: Counter[int] = Counter()
    broken: list[str] = []
    started = time.monotonic()
    for hostile in catalogue():
        path.write_bytes(hostile.data)
        result = runner.invoke(cli, ["validate", str(path)])
        outcomes[result.exit_code] += 1
        lines = result.output.splitlines()
        findings = [line for line in lines if not line.endswith("(lenient)")]
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            broken.append(f"{hostile.name}: {type(result.exception).__name__}: {result.exception}"[:300])
        elif result.exit_code == 1 and not findings:
            broken.append(f"{hostile.name}: exit 1 without a finding")
        elif result.exit_code not in (0, 1) or (result.exit_code == 0 and findings):
            broken.append(f"{hostile.name}: exit {result.exit_code}: {result.output[:200]}")
        elif bad := [line for line in findings if not (line.startswith(f"{path}: ") and CODED.search(line))]:
            broken.append(f"{hostile.name}: uncoded line {bad[0][:200]!r}")
    seconds = time.monotonic() - started
    total = sum(outcomes.values())
    record("xml-validate", "cbec validate", total, seconds)
    print(f"\nXML catalogue -> cbec validate: {total} files in {seconds:.1f}s "
          f"(exit 1: {outcomes[1]}, exit 0: {outcomes[0]}); broken: {len(broken)}")
    assert broken == []
    assert outcomes[1] >= 0.9 * total
    assert peak_growth_bytes() <= MEMORY_BOUND_BYTES


def test_the_inbox_refuses_every_hostile_file_with_a_coded_reason_and_still_records_a_good_receipt(
    tmp_path: Path,
) -> None:
    reset_peak()
    link = FileDropLink(tmp_path / "outbox", tmp_path / "inbox")
    store = InMemoryDeclarationStore()
    app = CustomsLinkApp(store, link, demo_registry())
    names: list[str] = []
    for n, hostile in enumerate(catalogue()):
        names.append(f"{n:06d}.xml")
        (link.inbox / names[-1]).write_bytes(hostile.data)
    good = "999999-CEB312Message.xml"  # named last: read after every hostile file
    (link.inbox / good).write_bytes(sample("CEB312"))

    started = time.monotonic()
    polls = 0
    while len(files_recorded(store)) < len(names) + 1:
        app.poll_inbox()  # raises if the poller chokes
        polls += 1
        assert polls <= len(names), "the inbox stalled"
    seconds = time.monotonic() - started

    rejected = [data for _, _, kind, data in store.log if kind == RECEIPT_FILE_REJECTED]
    uncoded = [data for data in rejected if not CODED.search(str(data["error"]))]
    assert uncoded == []
    assert files_recorded(store) == {*names, good}
    assert {"fileName": good, "count": 10} in [d for _, _, k, d in store.log if k == RECEIPT_FILE_INGESTED]
    record("xml-inbox", "customs link inbox", len(names), seconds)
    print(f"\nXML catalogue -> customs link inbox: {len(names)} files in {seconds:.1f}s over {polls} polls "
          f"(refused: {len(rejected)}, read: {len(names) - len(rejected)}); the good receipt after them recorded")
    assert peak_growth_bytes() <= MEMORY_BOUND_BYTES


def files_recorded(store: InMemoryDeclarationStore) -> set[str]:
    return {str(data["fileName"]) for _, _, kind, data in store.log
            if kind in (RECEIPT_FILE_INGESTED, RECEIPT_FILE_REJECTED)}

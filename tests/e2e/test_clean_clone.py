"""A user has only the repository: the README's demo command and `cbec validate` work in a fresh copy
of it, in an empty folder with no workspace material beside it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def _checkout(into: Path) -> Path:
    """What a clone would hold: every tracked file plus new ones not yet committed (never ignored ones)."""
    names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    repo = into / "cbec"
    for name in filter(None, names):
        source = ROOT / name
        if source.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    return repo


def test_the_demo_and_validate_run_from_a_clean_copy_with_nothing_beside_it(tmp_path: Path) -> None:
    repo = _checkout(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cbec"]  # no sibling shared/ folder
    out = tmp_path / "out"
    demo = subprocess.run(["bash", "scripts/demo.sh", "--orders", "3", "--out", str(out)], cwd=repo,
                          capture_output=True, text=True, timeout=600)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary and (out / "outbox").is_dir() and any((out / "outbox").iterdir())

    sample = sorted((out / "outbox").rglob("CEB311Message_*.xml"))[0]  # a DxpMsg as sent to customs
    where = "from cbec.reference import xsd_dir; print(xsd_dir())"
    xsd = subprocess.run([str(repo / ".venv" / "bin" / "python"), "-c", where], cwd=tmp_path, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert xsd.startswith(str(repo)), xsd  # the clone's own package data
    valid = subprocess.run([str(repo / ".venv" / "bin" / "cbec"), "validate", str(sample), "--xsd", str(xsd)],
                           cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    broken = tmp_path / "broken.xml"
    official = repo / "tests" / "data" / "ceb-202205" / "samples" / "import" / "CEB311Message.xml"
    broken.write_bytes(official.read_bytes().replace(b"<ceb:orderNo>", b"<ceb:orderNumber>", 1)
                       .replace(b"</ceb:orderNo>", b"</ceb:orderNumber>", 1))
    refused = subprocess.run([str(repo / ".venv" / "bin" / "cbec"), "validate", str(broken)], cwd=tmp_path,
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "orderNo" in refused.stdout + refused.stderr

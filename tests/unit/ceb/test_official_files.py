"""The official XSDs ship inside the CEB core, unchanged from what customs published (one noted edit)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from cbec.reference import official_dir, xsd_dir

ROOT = Path(__file__).resolve().parents[3]

EXPECTED = {
    "ceb-import.xsd": "4cddfc3e65a788cbdb64c3e0a9e2fed6fc1edd8fa41681892c5e08e12c45fb22",
    "ceb-export.xsd": "f20f6739350966bc9d50a3553feadf0025187fe9e2a89e82476ec0f905362cfa",
    "dxp-terminal.xsd": "eaa8be57310a7f01de394daf7d4a15f62dca44386acf0a28e5fb9dc5c962255d",
    "dxp-transport.xsd": "3043218afd26f74d797af8fc49f68769b2b8e8f1006108794ce8a19d752041b4",
    "xmldsig-core-schema.xsd": "c040e02d730fd327db8f3013ace1eb5621afd43a119f7f70b23c7523542a7ec8",
}


def test_the_packaged_xsds_are_the_official_files() -> None:
    found = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in xsd_dir().glob("*.xsd")}
    assert found == EXPECTED


def test_the_code_tables_and_their_provenance_ship_with_the_package() -> None:
    for name in ("error-codes.csv", "return-status.csv", "README.md"):
        assert (official_dir() / name).stat().st_size > 1000, name
    assert "Provenance" in (official_dir() / "README.md").read_text(encoding="utf-8")


def test_the_shipped_code_tables_are_the_ones_the_readme_records() -> None:
    """A code table changed without its provenance row (the README's sha256) fails here."""
    readme = (official_dir() / "README.md").read_text(encoding="utf-8")
    for name in ("ceb-country.csv", "ceb-currency.csv", "ceb-wrap-type.csv"):
        digest = hashlib.sha256((official_dir() / name).read_bytes()).hexdigest()
        assert f"| `{name}` | `{digest}` |" in readme, name


# Spelled in pieces so this file does not match itself.
NEEDLES = ("../" + "shared", '"shared" / ' + '"reference"', "CBEC_" + "REFERENCE_DIR")


def test_nothing_tracked_reads_the_workspace_folder_beside_the_repo() -> None:
    """Only prose may point developers at the workspace's reading material; code, scripts and deployment
    files never do."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    offenders = []
    for name in tracked.splitlines():
        path = ROOT / name
        if path.suffix in {".md", ".xml", ".xsd", ".csv", ".lock"} or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if any(needle in text for needle in NEEDLES) and path != Path(__file__):
            offenders.append(name)
    assert offenders == [], offenders

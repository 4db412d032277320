"""The test kit stays out of the product: no product module imports it, and the CLI and every service
start without it (as in the production image, which does not install it)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

WITHOUT_TESTKIT = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "cbec_testkit" or name.startswith("cbec_testkit."):
            raise ImportError("the test kit is not installed here")
sys.meta_path.insert(0, Block())
"""


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_product_module_imports_the_test_kit() -> None:
    offenders = [str(path.relative_to(ROOT)) for folder in ("shared", "services")
                 for path in sorted((ROOT / folder).rglob("*.py"))
                 if any(m.split(".")[0] == "cbec_testkit" for m in imported_modules(path))]
    assert offenders == []


def test_the_cli_imports_the_test_kit_only_inside_the_commands_that_need_it() -> None:
    for path in sorted((ROOT / "cli").rglob("*.py")):
        top_level = ast.parse(path.read_text(encoding="utf-8")).body
        for node in top_level:
            if isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] != "cbec_testkit", path
            if isinstance(node, ast.Import):
                assert all(a.name.split(".")[0] != "cbec_testkit" for a in node.names), path


def test_the_cli_and_every_bootstrap_load_without_the_test_kit(tmp_path: Path) -> None:
    code = WITHOUT_TESTKIT + """
import cbec_cli.main
for name in ("order", "payment", "logistics", "inventory", "signer", "receipts", "saga"):
    __import__(f"{name}_service.bootstrap")
from cbec_cli.run import tenants_for
from cbec.settings import Settings
try:
    tenants_for(Settings.from_environ({}))
except SystemExit as exc:
    print(exc)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "CBEC_TENANTS_FILE is not set and the demo tenants (test kit) are not installed" in done.stdout


def test_every_test_module_has_a_name_of_its_own() -> None:
    """pytest imports test modules by their base name (rootdir-relative, no packages): two files of
    the same name in different folders stop the whole run at collection."""
    from collections import Counter

    tests = Path(__file__).resolve().parents[2]
    names = Counter(p.name for p in tests.rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []

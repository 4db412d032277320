"""What may import what: the shared core knows no service, no service knows another, and nothing in the
product imports the test kit except the CLI's development commands, lazily."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import cbec

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").glob("*/*_service"))
TESTKIT = "cbec_testkit"
CORE = Path(cbec.__file__).resolve().parent  # the shared core package


def _imports(path: Path, top_level_only: bool = False) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module


def _root(module: str) -> str:
    return module.split(".")[0]


def test_the_shared_core_imports_no_service_cli_or_test_kit() -> None:
    forbidden = {*SERVICES, "cbec_cli", TESTKIT}
    found = [f"{p.relative_to(ROOT)}:{line} {m}" for p in CORE.rglob("*.py")
             for line, m in _imports(p) if _root(m) in forbidden]
    assert found == []


def test_no_service_imports_another_service_the_cli_or_the_test_kit() -> None:
    found = []
    for own in SERVICES:
        forbidden = {*(s for s in SERVICES if s != own), "cbec_cli", TESTKIT}
        package = next((ROOT / "services").glob(f"*/{own}"))
        found += [f"{p.relative_to(ROOT)}:{line} {m}" for p in package.rglob("*.py")
                  for line, m in _imports(p) if _root(m) in forbidden]
    assert found == []


def test_the_cli_imports_the_test_kit_only_inside_the_commands_that_need_it() -> None:
    found = [f"{p.relative_to(ROOT)}:{line} {m}" for p in (ROOT / "cli").rglob("*.py")
             for line, m in _imports(p, top_level_only=True) if _root(m) == TESTKIT]
    assert found == []


def test_the_rules_see_every_service() -> None:
    assert {"order_service", "payment_service", "logistics_service", "inventory_service", "signer_service",
            "receipts_service", "saga_service"} <= set(SERVICES)

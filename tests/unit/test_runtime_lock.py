"""The production image installs ``requirements.lock``: the runtime dependencies only. Development and
CI install ``requirements-dev.lock`` as well (the same pins plus the dev tools). Both are hashed and
name no registry; every third-party import of the product is satisfiable from the runtime lock."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = [ROOT / "shared", ROOT / "cli", *sorted(p for p in (ROOT / "services").iterdir() if p.is_dir())]
DEV_TOOLS = {"pytest", "pytest-timeout", "mypy", "hypothesis", "testcontainers", "ruff", "schemathesis"}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", re.MULTILINE)


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: str) -> dict[str, str]:
    return {normalized(name): version for name, version in _PIN.findall((ROOT / lock).read_text(encoding="utf-8"))}


def dev_extra() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {normalized(re.split(r"[<>=\[ ;]", spec, maxsplit=1)[0]) for spec in project["optional-dependencies"]["dev"]}


def first_party() -> set[str]:
    names = {"cbec_testkit"}  # the test kit: imported lazily by development-only commands (`cbec demo`)
    for root in PRODUCT:
        names |= {p.stem for p in root.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    return names


def third_party_imports(roots: list[Path] = PRODUCT) -> dict[str, str]:
    """Top-level module → a file importing it, for every import in the source under ``roots``."""
    ours = first_party()
    found: dict[str, str] = {}
    for root in roots:
        for path in root.rglob("*.py"):
            if ".venv" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                modules = ([a.name for a in node.names] if isinstance(node, ast.Import)
                           else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                           else [])
                for module in modules:
                    top = module.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in ours:
                        found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def test_the_runtime_lock_holds_no_dev_tool() -> None:
    runtime = pins("requirements.lock")
    assert not DEV_TOOLS & runtime.keys()
    assert not dev_extra() & runtime.keys()  # the whole dev extra stays out (gmssl, signxml, stubs …)


def test_the_dev_lock_is_the_runtime_lock_plus_the_dev_tools_at_the_same_versions() -> None:
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert {name: dev.get(name) for name in runtime} == runtime
    assert DEV_TOOLS <= dev.keys()


def test_both_locks_pin_every_file_by_hash_and_name_no_registry() -> None:
    for lock in ("requirements.lock", "requirements-dev.lock"):
        text = (ROOT / lock).read_text(encoding="utf-8")
        assert not re.search(r"^\s*(-i|--index-url|--extra-index-url|--find-links|-f)\b", text, re.MULTILINE), lock
        assert "://" not in text, lock
        for block in re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2]):
            assert "--hash=sha256:" in block, f"{lock}: {block.splitlines()[0]} has no hash"


def not_in_the_runtime_lock(roots: list[Path]) -> dict[str, tuple[str, list[str]]]:
    """Imported modules no distribution of the runtime lock provides: module → (a file, its distributions)."""
    runtime = pins("requirements.lock")
    distributions = packages_distributions()
    missing = {}
    for module, where in third_party_imports(roots).items():
        providers = {normalized(d) for d in distributions.get(module, [])}
        if not providers & runtime.keys():
            missing[module] = (where, sorted(providers))
    return missing


def test_every_third_party_import_of_the_product_is_in_the_runtime_lock() -> None:
    assert not_in_the_runtime_lock(PRODUCT) == {}
    assert {"psycopg", "sqlalchemy", "eventsourcing", "lxml"} <= third_party_imports().keys()  # the scan sees them


def test_the_test_kit_which_the_compose_image_may_include_needs_no_dev_tool_either() -> None:
    assert not_in_the_runtime_lock([ROOT / "testkit"]) == {}

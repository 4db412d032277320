"""The hostile-input suite: the totals test runs last, after every part has recorded its counts."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name == "test_suite_totals.py")

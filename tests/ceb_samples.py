"""The official 2022-05 sample messages kept for the tests (``tests/data/ceb-202205``)."""

from __future__ import annotations

from pathlib import Path

_DATA = Path(__file__).resolve().parent / "data" / "ceb-202205"


def samples_dir() -> Path:
    """``samples/import`` and ``samples/export`` below it, as published by customs."""
    return _DATA / "samples"

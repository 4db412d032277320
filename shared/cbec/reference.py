"""Where the official 2022-05 specification files live: package data of the CEB core."""

from __future__ import annotations

from pathlib import Path

_OFFICIAL = Path(__file__).resolve().parent / "ceb" / "official"


def official_dir() -> Path:
    """The folder with ``xsd/`` and the code tables (``error-codes.csv``, ``return-status.csv``)."""
    return _OFFICIAL


def xsd_dir() -> Path:
    return _OFFICIAL / "xsd"

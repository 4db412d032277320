"""Where the official 2022-05 reference pack (XSDs, samples, code tables) lives."""

from __future__ import annotations

import os
from pathlib import Path

_REPO = Path(__file__).resolve().parents[2]


def reference_dir() -> Path:
    """The ``ceb-202205`` folder: ``$CBEC_REFERENCE_DIR`` or ``../shared/reference/ceb-202205`` beside the repo."""
    env = os.environ.get("CBEC_REFERENCE_DIR")
    if env:
        return Path(env)
    return _REPO.parent / "shared" / "reference" / "ceb-202205"


def xsd_dir() -> Path:
    return reference_dir() / "xsd"


def samples_dir() -> Path:
    return reference_dir() / "samples"

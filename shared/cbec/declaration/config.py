"""Declaration settings read from the environment (``CBEC_`` prefix)."""

from __future__ import annotations

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class DeclarationSettings(BaseSettings):
    """``CBEC_REDECLARE_APP_TYPE``: declare a corrected document after a customs rejection as a change
    (``2``, the default) or afresh (``1``). ``CBEC_SAGA_GATE``: the status (120 or 2) below which a
    document customs answered may still be resent."""

    model_config = SettingsConfigDict(env_prefix="CBEC_", extra="ignore")

    redeclare_app_type: Literal["1", "2"] = "2"
    saga_gate: int = 120

"""Process configuration from the environment (``CBEC_`` prefix); secrets never live in the repo."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """What every service process reads at start-up."""

    model_config = SettingsConfigDict(env_prefix="CBEC_", extra="ignore")

    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:19092",
        validation_alias=AliasChoices("CBEC_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"),
    )
    database_url: str = Field(
        "sqlite:///cbec.db", validation_alias=AliasChoices("CBEC_DATABASE_URL", "DATABASE_URL")
    )
    dxp_outbox: Path = Path(".stack/dxp/outbox")
    dxp_inbox: Path = Path(".stack/dxp/inbox")
    schema_prefix: str = ""  # isolates test runs sharing one Postgres database
    tenants_file: Path | None = None
    http_port: int | None = None
    topic_partitions: int = 4
    poll_interval: float = 0.05
    simulator_delay: float = 0.2
    simulator_journal: Path | None = None

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
    # Each service's tables live in schema <prefix><service>; the prefix also keeps "order" (a reserved
    # word) out of bare identifiers and isolates test runs that share one database.
    schema_prefix: str = "cbec_"
    tenants_file: Path | None = None
    http_port: int | None = None
    http_host: str = "127.0.0.1"
    ready_file: Path | None = None
    topic_partitions: int = 4
    poll_interval: float = 0.05
    simulator_delay: float = 0.2
    simulator_journal: Path | None = None


def schema_for(settings: Settings, service: str) -> str:
    """The Postgres schema (or SQLite file stem) that holds ``service``'s tables."""
    return settings.schema_prefix + service

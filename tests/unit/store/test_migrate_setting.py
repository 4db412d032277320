"""`CBEC_DB_MIGRATE`: development services migrate at start unless told `off`; production never does,
whatever the variable says; SQLite stores (development) make their own tables and are never migrated."""

from __future__ import annotations

from pathlib import Path

import pytest
from cbec.migrations.startup import prepare_database, stores_make_tables
from cbec.settings import Settings
from pydantic import ValidationError


@pytest.mark.parametrize(("environ", "migrates"), [
    ({}, True),
    ({"CBEC_DB_MIGRATE": "off"}, False),
    ({"CBEC_ENV": "production"}, False),
    ({"CBEC_ENV": "production", "CBEC_DB_MIGRATE": "auto"}, False),
])
def test_only_a_development_process_may_migrate_at_start(environ: dict[str, str], migrates: bool) -> None:
    assert Settings.from_environ(environ).migrates_at_start is migrates


def test_an_unknown_mode_is_refused_naming_the_variable() -> None:
    with pytest.raises(ValidationError, match="CBEC_DB_MIGRATE"):
        Settings.from_environ({"CBEC_DB_MIGRATE": "sometimes"})


@pytest.mark.parametrize("mode", ["auto", "off"])
def test_sqlite_stores_make_their_own_tables_and_nothing_is_migrated(mode: str, tmp_path: Path) -> None:
    settings = Settings.from_environ({"CBEC_DATABASE_URL": f"sqlite:///{tmp_path / 'cbec.db'}",
                                      "CBEC_DB_MIGRATE": mode})
    assert stores_make_tables(settings) and prepare_database(settings) is True
    assert list(tmp_path.iterdir()) == []  # not even the file: the stores make it


def test_on_postgres_the_stores_never_make_their_own_tables() -> None:
    settings = Settings.from_environ({"CBEC_DATABASE_URL": "postgresql://cbec@db.example:5432/cbec"})
    assert not stores_make_tables(settings)

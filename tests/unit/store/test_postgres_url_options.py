"""The database URL is the whole connection string: every libpq option in it reaches every pool.

Nothing here connects: the event store's pool is inspected before it opens, and the read model's
engine is stopped at the moment it would hand its parameters to the driver."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cbec.declaration.bootstrap import open_store
from cbec.readmodel.tables import open_engine
from cbec.settings import Settings
from cbec.store.recorders import libpq_params, postgres_datastore
from psycopg import ProgrammingError
from sqlalchemy import event

URL = ("postgresql://cbec:s%40cret@db-1:5432,db-2:5433/cbec?sslmode=verify-full&sslrootcert=/run/ca.pem"
       "&sslcert=/run/tls.crt&sslkey=/run/tls.key&target_session_attrs=read-write&application_name=cbec-order"
       "&connect_timeout=7&options=-c%20statement_timeout%3D5s")
EXPECTED = {
    "user": "cbec", "password": "s@cret", "host": "db-1,db-2", "port": "5432,5433", "dbname": "cbec",
    "sslmode": "verify-full", "sslrootcert": "/run/ca.pem", "sslcert": "/run/tls.crt", "sslkey": "/run/tls.key",
    "target_session_attrs": "read-write", "application_name": "cbec-order", "connect_timeout": "7",
    "options": "-c statement_timeout=5s",
}


class _Stop(Exception):
    pass


def test_a_url_gives_every_libpq_parameter_in_it_in_either_spelling() -> None:
    assert libpq_params(URL) == EXPECTED
    assert libpq_params(URL.replace("postgresql://", "postgresql+psycopg://")) == EXPECTED


def test_an_option_libpq_does_not_know_is_refused_not_ignored() -> None:
    with pytest.raises(ProgrammingError, match="sslmood"):
        libpq_params("postgresql://cbec@db/cbec?sslmood=require")


def test_the_event_store_pool_connects_with_every_option_of_the_url() -> None:
    datastore = postgres_datastore(libpq_params(URL), "cbec_order", pool_size=3, max_overflow=4)
    try:
        pooled = {k: v for k, v in datastore.pool.kwargs.items() if k != "row_factory"}
        assert pooled == EXPECTED
        assert (datastore.pool.min_size, datastore.pool.max_size) == (3, 7)
    finally:
        datastore.close()


def test_the_read_model_engine_connects_with_every_option_of_the_url() -> None:
    engine = open_engine(URL, pool_size=2, max_overflow=3)
    handed: dict[str, Any] = {}

    @event.listens_for(engine, "do_connect")
    def capture(_dialect: Any, _record: Any, _args: Any, params: dict[str, Any]) -> None:
        handed.update(params)
        raise _Stop

    with pytest.raises(_Stop):
        engine.connect()
    assert {k: v for k, v in handed.items() if k != "context"} == EXPECTED
    assert (engine.pool.size(), engine.pool._max_overflow) == (2, 3)  # type: ignore[attr-defined]


def test_pool_sizes_come_from_the_settings_and_default_to_todays() -> None:
    assert (Settings.from_environ({}).database.pool_size, Settings.from_environ({}).database.max_overflow) == (5, 10)
    tuned = Settings.from_environ({"CBEC_DB_POOL_SIZE": "2", "CBEC_DB_MAX_OVERFLOW": "1"}).database
    assert (tuned.pool_size, tuned.max_overflow) == (2, 1)


def test_a_declaration_service_opens_its_event_store_with_the_configured_pool(tmp_path: Path) -> None:
    settings = Settings.from_environ({"CBEC_DATABASE_URL": f"sqlite:///{tmp_path / 'cbec.db'}",
                                      "CBEC_DB_POOL_SIZE": "2", "CBEC_DB_MAX_OVERFLOW": "3"})
    store = open_store(settings, "order")
    try:
        pool: Any = getattr(store.recorder, "datastore").pool  # noqa: B009 - the SQLite datastore has one
        assert (pool.pool_size, pool.max_overflow) == (2, 3)
    finally:
        store.close()

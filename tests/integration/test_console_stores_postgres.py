"""The console stores' contract (tests/unit/console/test_console_stores.py) on a real Postgres server, in a
schema of its own, as migration 0004 and ``ConsoleTables.create`` make it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cbec.readmodel.tables import open_engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "console"))
from test_console_stores import (  # noqa: E402 - the contract, from its own folder
    Stores,
    sql_stores,
    test_a_draft_is_seen_only_by_its_user_in_its_enterprise_and_keeps_its_edits,
    test_a_parcel_is_seen_by_its_warehouse_and_courier_and_its_declaration_is_kept,
    test_batches_are_listed_newest_first_and_the_unfinished_ones_oldest_first,
    test_committing_turns_the_draft_into_a_batch_of_its_enterprise_whose_progress_is_kept,
    test_the_database_holds_no_buyer_name_phone_or_id_number_in_clear_text,
)

pytestmark = pytest.mark.integration

__all__ = [
    "test_a_draft_is_seen_only_by_its_user_in_its_enterprise_and_keeps_its_edits",
    "test_a_parcel_is_seen_by_its_warehouse_and_courier_and_its_declaration_is_kept",
    "test_batches_are_listed_newest_first_and_the_unfinished_ones_oldest_first",
    "test_committing_turns_the_draft_into_a_batch_of_its_enterprise_whose_progress_is_kept",
    "test_the_database_holds_no_buyer_name_phone_or_id_number_in_clear_text",
]


@pytest.fixture
def stores(database_url: str, pg_schema: str) -> Iterator[Stores]:
    engine = open_engine(database_url, pool_size=2, max_overflow=0)
    yield sql_stores(engine, pg_schema)
    engine.dispose()


@pytest.fixture
def sql(stores: Stores) -> Stores:
    return stores

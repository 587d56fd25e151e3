"""Revision 0004 (gold clips) on a store at 0003 with rows in every table: every row survives,
the gold tables are new and empty, a curated label may now be ``gold`` (and nothing else new),
and downgrade refuses while gold labels exist, else keeps every row."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, inspect, select, table, text
from sqlalchemy.exc import IntegrityError

from avel_annotate.errors import StoreError
from avel_annotate.store.migrate import current_revision, downgrade, upgrade
from tests.fixtures import store_0001
from tests.integration.test_migration_0002 import _dump_columns, store_at_0001  # noqa: F401

GOLD_TABLES = {"gold_label", "gold_task", "gold_answer"}


def _columns(engine: Engine) -> dict[str, list[str]]:
    with engine.connect() as conn:
        return {
            name: list(conn.execute(select(text("*")).select_from(table(name))).keys())
            for name in store_0001.counts()
        }


@pytest.fixture
def store_at_0003(store_at_0001: Engine) -> Engine:  # noqa: F811
    upgrade(store_at_0001, "0003")
    with store_at_0001.begin() as conn:
        conn.execute(text("UPDATE list_event SET split = 'test'"))
    assert current_revision(store_at_0001) == "0003"
    return store_at_0001


def test_0004_on_a_0003_store_keeps_every_row_and_allows_gold(store_at_0003: Engine):
    engine = store_at_0003
    columns = _columns(engine)
    before = _dump_columns(engine, columns)
    assert before["curated_label"], "the fixture must have curated labels for this test"
    assert not GOLD_TABLES & set(inspect(engine).get_table_names())
    report = upgrade(engine, "0004")
    assert (report.before, report.after) == ("0003", "0004")
    assert _dump_columns(engine, columns) == before
    assert set(inspect(engine).get_table_names()) >= GOLD_TABLES
    with engine.connect() as conn:
        for name in GOLD_TABLES:
            assert conn.scalar(text(f"SELECT count(*) FROM {name}")) == 0
    curated_id = int(before["curated_label"][0][0])
    with engine.begin() as conn:  # the widened check takes "gold" ...
        conn.execute(text(f"UPDATE curated_label SET provenance = 'gold' WHERE id = {curated_id}"))
    with pytest.raises(IntegrityError), engine.begin() as conn:  # ... and nothing else new
        conn.execute(text(f"UPDATE curated_label SET provenance = 'guess' WHERE id = {curated_id}"))
    with pytest.raises(IntegrityError), engine.begin() as conn:  # gold_label.source is checked
        conn.execute(
            text(
                "INSERT INTO gold_label (clip_id, segments, source, source_ref, added_by, "
                "created_at) VALUES (10, '0000000000', 'rumour', 'x', 'me', '2026-01-01')"
            )
        )


def test_downgrade_refuses_while_gold_exists_then_keeps_every_row(store_at_0003: Engine):
    engine = store_at_0003
    columns = _columns(engine)
    before = _dump_columns(engine, columns)
    upgrade(engine, "0004")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO gold_label (clip_id, segments, source, source_ref, added_by, "
                "created_at) VALUES (10, '1100000000', 'expert', 'gold.csv:2', 'me', "
                "'2026-01-01')"
            )
        )
    with pytest.raises(StoreError, match="gold label"):
        downgrade(engine, "0003")
    assert current_revision(engine) == "0004"
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM gold_label"))
    assert downgrade(engine, "0003").after == "0003"
    assert _dump_columns(engine, columns) == before
    assert not GOLD_TABLES & set(inspect(engine).get_table_names())
    with pytest.raises(IntegrityError), engine.begin() as conn:  # the 0002 check is back
        conn.execute(text("UPDATE curated_label SET provenance = 'gold'"))

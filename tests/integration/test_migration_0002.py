"""Revision 0002 on a store made by 0001: every row survives; bad values refuse; downgrade works."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, table, text
from sqlalchemy.exc import IntegrityError

from avel_annotate.errors import StoreError
from avel_annotate.store.engine import make_engine
from avel_annotate.store.migrate import current_revision, downgrade, upgrade
from tests.fixtures import store_0001

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "avel-0001.db"


def _dump(engine: Engine) -> dict[str, list[tuple]]:
    out = {}
    with engine.connect() as conn:
        for name in store_0001.counts():
            rows = conn.execute(select(text("*")).select_from(table(name))).all()
            out[name] = sorted(tuple(str(v) for v in r) for r in rows)
    return out


@pytest.fixture(params=["sqlite", "postgres"])
def store_at_0001(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    if request.param == "sqlite":
        path = tmp_path / "avel.db"
        shutil.copy(FIXTURE, path)  # the committed file made by the 0001 code
        engine = make_engine(f"sqlite:///{path}")
    else:
        engine = make_engine(request.getfixturevalue("pg_url"))
        upgrade(engine, "0001")
        with engine.begin() as conn:
            store_0001.fill(conn)
    assert current_revision(engine) == "0001"
    yield engine
    engine.dispose()


def test_every_row_survives_the_upgrade_and_the_checks_hold(store_at_0001: Engine):
    engine = store_at_0001
    before = _dump(engine)
    assert {k: len(v) for k, v in before.items()} == store_0001.counts()
    report = upgrade(engine, "0002")
    assert (report.before, report.after) == ("0001", "0002")
    assert _dump(engine) == before
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE clip SET status = 'done' WHERE id = 10"))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE adjudication SET decision = 'maybe' WHERE id = 1"))
    with engine.begin() as conn:  # a value of the vocabulary is fine
        conn.execute(text("UPDATE clip SET status = 'pending' WHERE id = 10"))


def test_downgrade_drops_the_checks_and_keeps_the_rows(store_at_0001: Engine):
    engine = store_at_0001
    upgrade(engine, "0002")
    with engine.begin() as conn:
        conn.execute(text("UPDATE clip SET status = 'failed_retryable' WHERE id = 10"))
    before = _dump(engine)
    report = downgrade(engine, "0001")
    assert report.after == "0001"
    assert _dump(engine) == before
    with engine.begin() as conn:  # no check any more at 0001
        conn.execute(text("UPDATE clip SET status = 'done' WHERE id = 11"))


def test_values_outside_the_vocabulary_refuse_the_upgrade_and_change_nothing(
    store_at_0001: Engine,
):
    engine = store_at_0001
    with engine.begin() as conn:
        conn.execute(text("UPDATE clip SET status = 'done' WHERE id IN (10, 11)"))
        conn.execute(text("UPDATE annotation_revision SET change = 'moved' WHERE id = 1"))
    before = _dump(engine)
    with pytest.raises(StoreError) as info:
        upgrade(engine)
    message = info.value.one_line()
    assert "clip.status = 'done' in 2 row(s)" in message
    assert "annotation_revision.change = 'moved' in 1 row(s)" in message
    assert "nothing was changed" in message
    assert current_revision(engine) == "0001"
    assert _dump(engine) == before
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(table("clip"))) == 6


def _dump_columns(engine: Engine, columns: dict[str, list[str]]) -> dict[str, list[tuple]]:
    out = {}
    with engine.connect() as conn:
        for name, cols in columns.items():
            query = select(*[text(f'"{c}"') for c in cols]).select_from(table(name))
            out[name] = sorted(tuple(str(v) for v in r) for r in conn.execute(query).all())
    return out


def test_revision_0003_on_a_0002_store_keeps_every_row(store_at_0001: Engine):
    """0003 (list_event.split) on a store at its previous revision 0002, with rows in every
    table: every row and value survives, the new column is empty, and downgrade keeps the rows."""
    engine = store_at_0001
    upgrade(engine, "0002")
    with engine.connect() as conn:
        columns = {
            name: list(conn.execute(select(text("*")).select_from(table(name))).keys())
            for name in store_0001.counts()
        }
    before = _dump_columns(engine, columns)
    assert before["list_event"], "the fixture must have list events for this test to mean much"
    report = upgrade(engine, "0003")
    assert (report.before, report.after) == ("0002", "0003")
    assert _dump_columns(engine, columns) == before
    with engine.connect() as conn:
        splits = conn.execute(text("SELECT split FROM list_event")).scalars().all()
    assert splits and all(s is None for s in splits)
    with engine.begin() as conn:
        conn.execute(text("UPDATE list_event SET split = 'test'"))
    assert downgrade(engine, "0002").after == "0002"
    assert _dump_columns(engine, columns) == before

"""Issue 13: no unit of work is open while push, pull, `qc sample` or `adjudicate` wait on Label
Studio (on SQLite an open write transaction holds the database lock across the round-trip, so
every other command waited on the network). Every HTTP call the client makes, against a real
server, is recorded with the store's open units of work and whether another connection could
take SQLite's write lock at that moment."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from avel_annotate.config import Settings
from avel_annotate.domain.ls_results import labels_to_result
from avel_annotate.labelstudio.client import LsClient
from avel_annotate.services import annotate, qc
from avel_annotate.store.database import Store
from avel_annotate.store.engine import sqlite_path

from .conftest import TOKEN, add_clips

pytestmark = pytest.mark.labelstudio


def _write_lock_free(db: Path) -> bool:
    conn = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()


class _Recorder:
    """Records ``(what, open units of work, write lock free)`` at each HTTP call while on."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, int, bool]] = []
        self.on = False
        db = sqlite_path(store.engine)
        assert db is not None
        original = LsClient._call

        def recording(client: LsClient, what: str, fn: Callable[..., Any], *a: Any, **k: Any):
            if self.on:
                self.calls.append((what, store.open_sessions, _write_lock_free(db)))
            return original(client, what, fn, *a, **k)

        monkeypatch.setattr(LsClient, "_call", recording)

    def run(self, fn: Callable[[], Any]) -> Any:
        self.on = True
        try:
            return fn()
        finally:
            self.on = False


def test_no_session_is_open_at_any_http_call(
    ls_settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
):
    ids = add_clips(ls_settings, 4, ["dog", "cat"])
    rec = _Recorder(store, monkeypatch)
    client = LsClient(ls_settings.ls_url, TOKEN)
    pushed = rec.run(
        lambda: annotate.push(
            store, ls_settings, annotate.PushOptions(batch_size=2, gold_rate=0), client=client
        )
    )
    assert pushed.created == 4
    me, _ = client.whoami()
    bob = client.create_user("bob@avel.local")
    tasks = {c: t for t, c in client.task_clip_ids(pushed.ls_project_id)}
    answers = {
        clip: client.create_annotation(
            tasks[clip], labels_to_result("0110000000", "dog"), completed_by=me
        )
        for clip in ids
    }
    assert rec.run(lambda: annotate.pull(store, ls_settings, client=client)).new == 4
    sample = rec.run(lambda: qc.qc_sample(store, ls_settings, fraction=0.5, seed=1))
    assert sample.recheck_tasks_created == 2 and sample.recheck_ls_project_id is not None
    for task_id, _clip in client.task_clip_ids(sample.recheck_ls_project_id):
        client.create_annotation(task_id, labels_to_result("0100000000", "dog"), completed_by=bob)
    pulled = rec.run(lambda: annotate.pull(store, ls_settings, client=client))
    assert pulled.new == 2 and pulled.recheck_ls_project_id == sample.recheck_ls_project_id
    clip = ids[0]
    decided = rec.run(lambda: qc.adjudicate(store, ls_settings, clip, accept=answers[clip]))
    assert decided.decision == "accept"

    whats = [w for w, _n, _free in rec.calls]
    for needed in ("import", "export", "list tasks", "create project", "update annotation"):
        assert any(needed in w for w in whats), (needed, whats)
    held = [(w, n) for w, n, _free in rec.calls if n != 0]
    assert held == [], f"units of work open during HTTP calls: {held}"
    locked = [w for w, _n, free in rec.calls if not free]
    assert locked == [], f"SQLite write lock held during HTTP calls: {locked}"
    assert store.open_sessions == 0

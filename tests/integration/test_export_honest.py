"""Exports say what happened: `rechecked` only for drawn clips; categories in class-index order."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from avel_annotate.cli.main import run
from avel_annotate.config import Settings
from avel_annotate.domain.qc_draw import draw_recheck
from avel_annotate.services.clips import import_clip_list
from avel_annotate.services.store import Store
from avel_annotate.store import annotations as aq
from avel_annotate.store.clips import category_names
from avel_annotate.store.engine import make_engine, session_scope
from avel_annotate.store.tables import Category, Clip, LsTask
from tests.integration.test_predict_export import labelled_store  # noqa: F401 (fixture)


def test_jsonl_rechecked_is_true_only_for_drawn_clips(
    labelled_store: Settings,  # noqa: F811
    tmp_path: Path,
) -> None:
    s = labelled_store
    engine = make_engine(s.db_url)
    with session_scope(engine) as session:
        project = aq.add_project(session, "http://ls.invalid", 1, "t", "0" * 64)
        candidates: list[tuple[int, str]] = []
        clip_of_task: dict[int, str] = {}
        pk_of_task: dict[int, int] = {}
        rows = session.execute(
            select(Clip.id, Clip.clip_id, Category.name).join(Category).order_by(Clip.id)
        ).all()
        for n, (pk, clip_id, category) in enumerate(rows):
            task = LsTask(project_id=project.id, clip_id=pk, ls_task_id=100 + n)
            session.add(task)
            session.flush()
            candidates.append((task.id, category))
            clip_of_task[task.id] = clip_id
            pk_of_task[task.id] = pk
        drawn = set(draw_recheck(candidates, 0.6, seed=3))  # the draw `avel qc sample` makes
        aq.insert_draws(
            session,
            [(t, pk_of_task[t], t in drawn) for t, _ in candidates],
            draw_run=1,
            seed=3,
            fraction=0.6,
        )
    engine.dispose()
    assert 0 < len(drawn) < len(candidates)

    out = tmp_path / "labels.jsonl"
    assert run(["--data-dir", str(s.data_dir), "--no-progress", "export", str(out),
                "--format", "jsonl", "--labels", "list"]) == 0  # fmt: skip
    records = [json.loads(line) for line in out.read_text().splitlines()]
    rechecked = {r["clip_id"] for r in records if r["qc"]["rechecked"]}
    assert rechecked == {clip_of_task[t] for t in drawn}
    assert len(records) == len(candidates)


def test_category_names_follow_class_index_not_the_alphabet(
    settings: Settings, store: Store, tmp_path: Path
):
    path = tmp_path / "v.csv"
    path.write_text("abcdefghij0,1,zebra braying,train\nabcdefghij1,1,airplane,train\n")
    import_clip_list(store, settings, path)
    engine = make_engine(settings.db_url)
    with session_scope(engine) as session:
        assert category_names(session) == ["zebra braying", "airplane"]
    engine.dispose()

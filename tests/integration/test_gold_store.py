"""Gold labels in the store (SQLite and PostgreSQL): the expert file and its one-line errors,
gold from re-checked curated labels only, a gold label as the clip's one curated label, removal,
the split rule, and answers to gold copies stored once (apart from first passes)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from avel_annotate.cli.main import run
from avel_annotate.config import Settings
from avel_annotate.domain.ls_results import Labels, PulledAnnotation
from avel_annotate.errors import ConfigError, NotFoundError
from avel_annotate.services import gold
from avel_annotate.services.curation import curated_labels, recompute_curated
from avel_annotate.services.store import open_store
from avel_annotate.store.database import Store
from avel_annotate.store.tables import (
    Annotation,
    Clip,
    CuratedLabel,
    GoldAnswer,
    GoldTask,
    LsProject,
    LsTask,
    utcnow,
)
from tests.integration.labelstudio.conftest import add_clips


def _gold_file(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "expert.csv"
    path.write_text("clip_id,segments,category\n" + "".join(r + "\n" for r in rows))
    return path


def _curated(store: Store) -> dict[str, tuple[str, str | None, str]]:
    return {c.clip_id: (c.segments, c.category, c.provenance) for c in curated_labels(store)}


def test_expert_gold_is_the_clips_one_curated_label_and_removal_restores(
    any_settings: Settings, tmp_path: Path, any_store: Store
):
    ids = add_clips(any_settings, 3, ["dog", "cat"])
    path = _gold_file(tmp_path, f"{ids[0]},1111100000,dog", f"{ids[1]},0000000000,")
    r = gold.add_from_file(any_store, path, by="expert@lab")
    assert (r.added, r.unchanged, r.curated.added) == (2, 0, 2)
    assert _curated(any_store) == {
        ids[0]: ("1111100000", "dog", "gold"),
        ids[1]: ("0000000000", None, "gold"),
    }
    again = gold.add_from_file(any_store, path)  # same labels: nothing changes
    assert (again.added, again.unchanged) == (0, 2)
    listed = {g.clip_id: g for g in gold.list_gold(any_store)}
    assert listed[ids[0]].source_ref == "expert.csv:2" and listed[ids[0]].added_by == "expert@lab"
    other = _gold_file(tmp_path, f"{ids[0]},0000011111,dog")
    with pytest.raises(ConfigError, match=r"expert\.csv:2: clip .* is gold already"):
        gold.add_from_file(any_store, other)
    with (
        open_store(any_settings) as opened,
        opened.session() as s,
    ):  # recomputing every clip keeps the gold label
        recompute_curated(s)
    assert _curated(any_store)[ids[0]] == ("1111100000", "dog", "gold")
    removed = gold.remove(any_store, [ids[0]])
    assert removed.curated.removed == 1  # no annotation: no curated label without gold
    assert ids[0] not in _curated(any_store)
    with pytest.raises(NotFoundError, match="is not gold"):
        gold.remove(any_store, [ids[0]])


def test_a_bad_row_stores_nothing_and_the_cli_says_file_and_line(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture, store: Store
):
    ids = add_clips(settings, 2, ["dog"])
    path = _gold_file(tmp_path, f"{ids[0]},1111100000,dog", f"{ids[1]},1111100000,horse")
    code = run(["--data-dir", str(settings.data_dir), "annotate", "gold", "add", str(path)])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1
    assert f"{path}:3: unknown category 'horse'" in err and "category of the store" in err
    assert gold.list_gold(store) == []
    assert run(["--data-dir", str(settings.data_dir), "annotate", "gold", "add"]) == 1


def test_gold_from_curated_needs_an_agreed_or_adjudicated_label(
    any_settings: Settings, any_store: Store
):
    ids = add_clips(any_settings, 3, ["dog"])
    with open_store(any_settings) as opened, opened.session() as s:
        pks = {c.clip_id: c.id for c in s.scalars(select(Clip))}
        for clip_id, prov in ((ids[0], "agreement"), (ids[1], "first_pass")):
            s.add(
                CuratedLabel(
                    clip_id=pks[clip_id],
                    segments="0011100000",
                    category_id=None,
                    provenance=prov,
                    annotation_ids="[]",
                )
            )
    with pytest.raises(ConfigError, match="has a first_pass label, not an agreed"):
        gold.add_from_curated(any_store, [ids[1]])
    with pytest.raises(ConfigError, match="has no curated label"):
        gold.add_from_curated(any_store, [ids[2]])
    with pytest.raises(NotFoundError, match="not in the store"):
        gold.add_from_curated(any_store, ["nope_000000"])
    r = gold.add_from_curated(any_store, [ids[0]], by="lead")
    assert (r.added, r.source) == (1, "curated")
    assert _curated(any_store)[ids[0]] == ("0011100000", None, "gold")
    assert gold.list_gold(any_store)[0].source_ref == "agreement"


def test_split_rule_gold_in_test_is_never_trained_on_and_counts_once(
    any_settings: Settings, tmp_path: Path, any_store: Store
):
    train = add_clips(any_settings, 2, ["dog"], split="train")
    test_ids = ["t" + c[1:] for c in train]  # other ids, in the test split
    test = _add_split_clips(any_settings, test_ids, "test")
    path = _gold_file(tmp_path, f"{train[0]},1111100000,dog", f"{test[0]},0000011111,dog")
    gold.add_from_file(any_store, path)
    assert [c.clip_id for c in curated_labels(any_store, "train")] == [train[0]]
    assert [c.clip_id for c in curated_labels(any_store, "test")] == [test[0]]
    assert len(curated_labels(any_store)) == 2  # one curated row per gold clip, no copies


def _add_split_clips(settings: Settings, clip_ids: list[str], split: str) -> list[str]:
    with open_store(settings) as opened, opened.session() as s:
        template = s.scalars(select(Clip)).first()
        assert template is not None
        for i, clip_id in enumerate(clip_ids):
            s.add(
                Clip(
                    clip_id=clip_id,
                    ytid=clip_id[:11],
                    start_s=0,
                    source_format="vggsound",
                    source_file="test.csv",
                    source_line=100 + i,
                    category_id=template.category_id,
                    split=split,
                    status="fetched",
                    media_path=template.media_path,
                )
            )
    return clip_ids


def test_answers_to_gold_copies_are_stored_once_and_never_first_passes(any_settings: Settings):
    ids = add_clips(any_settings, 2, ["dog"])
    with open_store(any_settings) as opened, opened.session() as s:
        project = LsProject(
            ls_url="http://x", ls_project_id=1, title="avel", label_config_sha256=""
        )
        s.add(project)
        s.flush()
        pk = s.scalar(select(Clip.id).where(Clip.clip_id == ids[0]))
        [copy] = gold.q.add_pending(s, project.id, [(pk, None)])
        gold.q.set_task_ids(s, [(copy, 77)])
        project_pk = project.id

    def ann(labels: Labels) -> PulledAnnotation:  # as the adapter reads it from the export
        return PulledAnnotation(5, labels, False, False, 3, None, None, datetime(2026, 1, 1))

    labels = Labels("1111100000", "dog")
    for _ in range(2):  # a second pull of the same annotation stores nothing
        with open_store(any_settings) as opened, opened.session() as s:
            new, updated, deleted = gold.record_answers(
                s, project_pk, [(copy, ann(labels))], {3: "ann@lab"}, utcnow()
            )
    assert (new, updated, deleted) == (0, 0, 0)
    with open_store(any_settings) as opened, opened.session() as s:
        edited = gold.record_answers(
            s, project_pk, [(copy, ann(Labels("0000000000", None)))], {3: "ann@lab"}, utcnow()
        )
        assert edited == (0, 1, 0)
        assert gold.record_answers(s, project_pk, [], {}, utcnow()) == (0, 0, 1)
        assert s.scalar(select(func.count()).select_from(GoldAnswer)) == 1
        assert s.scalar(select(func.count()).select_from(GoldTask)) == 1
        assert s.scalar(select(func.count()).select_from(Annotation)) == 0
        assert s.scalar(select(func.count()).select_from(LsTask)) == 0


def test_an_interrupted_push_leaves_copies_the_next_push_adopts_or_forgets(
    any_settings: Settings,
):
    ids = add_clips(any_settings, 4, ["dog"])
    with open_store(any_settings) as opened, opened.session() as s:
        project = LsProject(
            ls_url="http://x", ls_project_id=1, title="avel", label_config_sha256=""
        )
        s.add(project)
        s.flush()
        pks = {c.clip_id: c.id for c in s.scalars(select(Clip))}
        recorded, imported, never = gold.q.add_pending(
            s, project.id, [(pks[ids[0]], None), (pks[ids[1]], None), (pks[ids[2]], None)]
        )
        gold.q.set_task_ids(s, [(recorded, 10)])
        project_pk = project.id
    # the server holds the recorded copy (10), the imported-but-unrecorded one (11), an
    # ordinary task of another clip the store lost (12); the third copy's import never happened
    server = [(10, ids[0]), (11, ids[1]), (12, ids[3])]
    with open_store(any_settings) as opened, opened.session() as s:
        left, adopted = gold.reconcile(s, project_pk, server, pks)
        assert (left, adopted) == ([(12, ids[3])], 1)
    with open_store(any_settings) as opened, opened.session() as s:
        copies = {t.id: t.ls_task_id for t in s.scalars(select(GoldTask))}
        assert copies == {recorded: 10, imported: 11}  # `never` is forgotten
        assert gold.q.pending_copies(s, project_pk) == []
        assert never not in copies

"""The store on SQLite and on a real PostgreSQL: migrations, clip-list import, splits."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select, text

from avel_annotate.config import Settings
from avel_annotate.errors import ClipListError, SchemaOutdatedError
from avel_annotate.services import clips, splits
from avel_annotate.services.store import Store, db_current, db_upgrade, open_store
from avel_annotate.store import migrate
from avel_annotate.store.engine import make_engine, session_scope
from avel_annotate.store.tables import (
    Annotation,
    Base,
    Category,
    Clip,
    ListEvent,
    LsProject,
    LsTask,
)

VGG = (
    "---g-f_I2yQ,1,people marching,test\n"
    '-0abcdefghi,30,"female speech, woman speaking",train\n'
    "Zz_9-aB3cD4,185,playing tennis,train\n"
    "Zz_9-aB3cD4,200,playing tennis,train\n"
)


def _write(tmp_path: Path, name: str, text: str, newline: str = "\n") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode())
    return path


def _snapshot(settings: Settings) -> list[tuple]:
    engine = make_engine(settings.db_url)
    with session_scope(engine) as s:
        rows = s.execute(
            select(Clip.clip_id, Category.name, Clip.split, Clip.list_segments)
            .join(Category, Clip.category_id == Category.id, isouter=True)
            .order_by(Clip.clip_id)
        ).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def test_upgrade_of_empty_database_matches_metadata_exactly(any_settings: Settings):
    report = db_upgrade(any_settings)
    assert report.before is None and report.after == db_current(any_settings).head
    engine = make_engine(any_settings.db_url)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    engine.dispose()
    assert diff == []
    assert db_current(any_settings).up_to_date


def test_outdated_database_refuses_and_names_the_fix(
    any_settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    db_upgrade(any_settings)
    with open_store(any_settings) as store:  # the schema gate: opening the store, once
        clips.clip_stats(store)
    head = migrate.head_revision()
    monkeypatch.setattr(migrate, "head_revision", lambda: "0099")  # as if a newer release
    with pytest.raises(SchemaOutdatedError) as info, open_store(any_settings) as store:
        clips.clip_stats(store)
    assert f"is at revision {head}, this avel-annotate needs 0099" in info.value.one_line()
    assert info.value.one_line().endswith("(run `avel db upgrade`)")


def test_database_from_a_newer_release_is_refused(any_settings: Settings):
    db_upgrade(any_settings)
    engine = make_engine(any_settings.db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    engine.dispose()
    with pytest.raises(SchemaOutdatedError, match="does not know"), open_store(any_settings) as s:
        clips.clip_stats(s)


def test_new_database_is_created_by_any_command(settings: Settings, store: Store):
    assert clips.clip_stats(store).total == 0
    assert db_current(settings).up_to_date


def test_import_then_reimport_is_a_no_op(any_settings: Settings, any_store: Store, tmp_path: Path):
    path = _write(tmp_path, "vggsound.csv", VGG, "\r\n")
    first = clips.import_clip_list(any_store, any_settings, path)
    assert (first.clips_new, first.categories_new, first.rejected) == (4, 3, 0)
    before = _snapshot(any_settings)
    again = clips.import_clip_list(any_store, any_settings, path)
    assert (again.clips_new, again.clips_updated, again.clips_unchanged) == (0, 0, 4)
    assert _snapshot(any_settings) == before
    assert ("-0abcdefghi_000030", "female speech, woman speaking", "train", None) in before


def test_malformed_rows_import_nothing_and_list_every_bad_line(
    any_settings: Settings, any_store: Store, tmp_path: Path
):
    clips.import_clip_list(any_store, any_settings, _write(tmp_path, "a.csv", VGG))
    before = _snapshot(any_settings)
    bad = _write(
        tmp_path,
        "b.csv",
        "abcdefghijk,1,dog,train\nabcdefghijk,x,dog,train\nbadid,1,dog,train\n",
    )
    with pytest.raises(ClipListError) as info:
        clips.import_clip_list(any_store, any_settings, bad)
    assert [p.split(": ")[0] for p in info.value.problems] == [f"{bad}:2", f"{bad}:3"]
    assert "nothing was imported" in info.value.message
    assert _snapshot(any_settings) == before


def test_skip_invalid_imports_good_rows_and_writes_rejects(
    settings: Settings, store: Store, tmp_path: Path
):
    bad = _write(tmp_path, "b.csv", "abcdefghijk,1,dog,train\nabcdefghijk,x,dog,train\n")
    report = clips.import_clip_list(store, settings, bad, skip_invalid=True)
    assert (report.clips_new, report.rejected) == (1, 1)
    rejects = Path(report.rejects_path or "").read_text()
    assert "2,start 'x' is not a number (use the digits 0-9),\"abcdefghijk,x,dog,train\"" in rejects


def test_conflicting_label_is_reported_not_overwritten(
    any_settings: Settings, any_store: Store, tmp_path: Path
):
    clips.import_clip_list(any_store, any_settings, _write(tmp_path, "a.csv", VGG))
    before = _snapshot(any_settings)
    other = _write(tmp_path, "c.csv", "---g-f_I2yQ,1,dog barking,test\n")
    with pytest.raises(ClipListError) as info:
        clips.import_clip_list(any_store, any_settings, other)
    assert "stored with label 'people marching'" in info.value.problems[0]
    assert f"{other}:1:" in info.value.problems[0]
    assert _snapshot(any_settings) == before


def test_ave_list_keeps_several_events_per_video(
    any_settings: Settings, any_store: Store, tmp_path: Path
):
    ave = (
        "Category&VideoID&Quality&StartTime&EndTime\n"
        "Church bell&RUhOCu3LNXM&good&0&10\n"
        "Church bell&MH3m4AwEcRY&good&6&8\n"
        "Male speech, man speaking&MH3m4AwEcRY&good&0&3\n"
        "Dog&-zeroLen000&bad&0&0\n"
    )
    path = _write(tmp_path, "Annotations.txt", ave, "\r\n")
    report = clips.import_clip_list(any_store, any_settings, path)
    assert (report.clips_new, report.events_new, report.header_line) == (3, 4, 1)
    snap = {r[0]: r for r in _snapshot(any_settings)}
    assert snap["MH3m4AwEcRY_000000"][1:] == ("Church bell", None, "1110001100")
    assert snap["RUhOCu3LNXM_000000"][3] == "1111111111"
    assert snap["-zeroLen000_000000"][3] == "0000000000"
    engine = make_engine(any_settings.db_url)
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(ListEvent)) == 4
    engine.dispose()
    assert clips.import_clip_list(any_store, any_settings, path).events_new == 0


def test_avel100k_takes_start_from_the_single_stored_clip(
    settings: Settings, store: Store, tmp_path: Path
):
    clips.import_clip_list(store, settings, _write(tmp_path, "a.csv", VGG))
    avel = _write(
        tmp_path,
        "avel.csv",
        "video_id,category,split,labels\n---g-f_I2yQ,people marching,val,0111111110\n",
    )
    report = clips.import_clip_list(store, settings, avel)
    assert (report.clips_new, report.clips_updated) == (0, 1)
    snap = {r[0]: r for r in _snapshot(settings)}
    assert snap["---g-f_I2yQ_000001"][2:] == ("val", "0111111110")
    ambiguous = _write(
        tmp_path, "amb.csv", "video_id,category,split\nZz_9-aB3cD4,playing tennis,val\n"
    )
    with pytest.raises(ClipListError, match="bad row"):
        clips.import_clip_list(store, settings, ambiguous)


def test_real_samples_import(settings: Settings, store: Store, samples: Path):
    vgg = clips.import_clip_list(store, settings, samples / "vggsound_head200.csv")
    assert vgg.clips_new == 200
    ave = clips.import_clip_list(store, settings, samples / "ave_annotations_head200.txt")
    assert ave.format == "ave" and ave.events_new == 200
    files = clips.import_clip_list(store, settings, samples / "vggsound_test_clips_head200.csv")
    assert files.format == "vggsound-files" and files.rejected == 0
    records = {r.clip_id: r for r in clips.list_clips(store, settings)}
    assert records["---g-f_I2yQ_000001"].category == "people marching"
    assert records["---g-f_I2yQ_000001"].split == "test"


def test_split_assign_keeps_list_splits_and_annotated_clips(
    any_settings: Settings, any_store: Store, tmp_path: Path
):
    rows = "".join(f"Dog&{'a' * 7}{i:04d}&good&0&10\n" for i in range(20))
    clips.import_clip_list(any_store, any_settings, _write(tmp_path, "Annotations.txt", rows))
    clips.import_clip_list(any_store, any_settings, _write(tmp_path, "v.csv", VGG))
    first = splits.assign(any_store, "60/20/20", seed=5)
    assert first.counts == {"test": 4, "train": 12, "val": 4}
    assert first.kept_list == 4
    with any_store.session() as s:
        clip = s.scalars(select(Clip).where(Clip.split == "val").order_by(Clip.id)).first()
        assert clip is not None
        project = LsProject(ls_url="http://x", ls_project_id=1, title="t", label_config_sha256="0")
        s.add(project)
        s.flush()
        task = LsTask(project_id=project.id, clip_id=clip.id, ls_task_id=1)
        s.add(task)
        s.flush()
        s.add(
            Annotation(
                task_id=task.id,
                clip_id=clip.id,
                ls_annotation_id=1,
                annotator="a",
                round=1,
                segments="1" * 10,
            )
        )
        locked_id = clip.clip_id
    again = splits.assign(any_store, "60/20/20", seed=5)
    assert again.moved == 0
    moved = splits.assign(any_store, "0/0/100", seed=5)
    assert moved.kept_annotated == 1
    records = {r.clip_id: r.split for r in clips.list_clips(any_store, any_settings)}
    assert records[locked_id] == "val"
    assert sum(1 for s in records.values() if s == "test") == 19 + 1  # 19 moved + 1 list test
    splits.assign(any_store, "0/0/100", seed=5, force=True)
    assert {r.clip_id: r.split for r in clips.list_clips(any_store, any_settings)}[
        locked_id
    ] == "test"


def test_same_list_format_with_another_split_is_a_conflict(
    settings: Settings, store: Store, tmp_path: Path
):
    clips.import_clip_list(store, settings, _write(tmp_path, "a.csv", VGG))
    moved = _write(tmp_path, "b.csv", "---g-f_I2yQ,1,people marching,train\n")
    with pytest.raises(ClipListError) as info:
        clips.import_clip_list(store, settings, moved)
    assert "is stored in split test" in info.value.problems[0]


def test_categories_are_numbered_in_order_of_first_appearance(
    settings: Settings, store: Store, tmp_path: Path
):
    ave = (
        "Church bell&RUhOCu3LNXM&good&0&10\n"
        "Bark&MH3m4AwEcRY&good&6&8\n"
        "Accordion&abcdefghijk&good&0&3\n"
    )
    clips.import_clip_list(store, settings, _write(tmp_path, "Annotations.txt", ave))
    engine = make_engine(settings.db_url)
    with session_scope(engine) as s:
        names = list(s.scalars(select(Category.name).order_by(Category.id)))
    engine.dispose()
    assert names == ["Church bell", "Bark", "Accordion"]


def test_rejected_rows_create_no_categories(settings: Settings, store: Store, tmp_path: Path):
    clips.import_clip_list(store, settings, _write(tmp_path, "a.csv", VGG))
    other = _write(tmp_path, "c.csv", "---g-f_I2yQ,1,dog barking,test\nabcdefghijk,2,owl,train\n")
    report = clips.import_clip_list(store, settings, other, skip_invalid=True)
    assert (report.clips_new, report.rejected, report.categories_new) == (1, 1, 1)
    engine = make_engine(settings.db_url)
    with session_scope(engine) as s:
        names = set(s.scalars(select(Category.name)))
    engine.dispose()
    assert "owl" in names and "dog barking" not in names

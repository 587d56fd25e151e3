"""AVE as a benchmark: every Annotations row kept, the release's split, and an export that gives
back its 4,143 rows with order files selecting the release's rows (real release files)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest

from avel_annotate.cli.main import run
from avel_annotate.config import Settings
from avel_annotate.errors import ClipListError
from avel_annotate.features.store_files import feature_path, write_features
from avel_annotate.model.data import read_order_file
from avel_annotate.services import ave_split, clips
from avel_annotate.services.export import _rows, ave_rows
from avel_annotate.services.store import Store, open_store
from avel_annotate.store import features as fq
from avel_annotate.store.engine import make_engine, session_scope
from avel_annotate.store.tables import Clip
from tests.integration.test_predict_export import _provenance

RELEASE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "samples" / "ave_release"
needs_release = pytest.mark.skipif(not RELEASE.is_dir(), reason="../shared is absent")
SPLITS = ("train", "val", "test")


def _import_split(settings: Settings, paths: list[Path]) -> ave_split.SplitImportReport:
    with open_store(settings) as store:
        return ave_split.import_ave_split(store, paths)


def _list(settings: Settings) -> list[clips.ClipRecord]:
    with open_store(settings) as store:
        return clips.list_clips(store, settings)


@pytest.fixture(scope="module")
def release_store(tmp_path_factory) -> Settings:
    """A store with the full Annotations.txt and the release's split imported."""
    if not RELEASE.is_dir():
        pytest.skip("../shared is absent")
    from avel_annotate.config import load_settings

    data_dir = tmp_path_factory.mktemp("avel-data")
    settings = load_settings(data_dir=data_dir, overrides={"progress": False}, environ={})
    with open_store(settings) as store:
        report = clips.import_clip_list(store, settings, RELEASE / "Annotations.txt")
        split = ave_split.import_ave_split(store, [RELEASE / f"{s}_order.h5" for s in SPLITS])
    assert (report.rows, report.clips_new, report.events_new) == (4143, 4097, 4143)
    assert split.rows_by_split == {"train": 3339, "val": 402, "test": 402}
    assert split.rows_without_split == 0
    assert split.clips_spanning_splits == 18  # the release splits rows, not videos
    assert sum(split.clips_by_split.values()) == 4097
    return settings


@needs_release
def test_every_row_is_an_event_and_listed(release_store: Settings) -> None:
    records = {r.ytid: r for r in _list(release_store)}
    assert len(records) == 4097
    assert sum(len(r.events) for r in records.values()) == 4143
    two = records["0qvQIuQoODo"]  # male and female speech, rows in train and test
    assert two.events == ["Male speech, man speaking 1-4 (train)",
                          "Female speech, woman speaking 1-4 (test)"]  # fmt: skip
    assert two.split == "train" and two.category == "Male speech, man speaking"
    three = records["0f_iTO5t3hU"]
    assert [e.split(" 0-10")[0] for e in three.events] == ["Ukulele", "Banjo", "Mandolin"]


@pytest.fixture
def release_db(release_store: Settings) -> Iterator[Store]:
    with open_store(release_store) as store:
        yield store


@needs_release
def test_export_rows_are_the_releases(release_db: Store) -> None:
    planned = ave_rows(release_db, _rows(release_db, None, "list"), "list")
    assert len(planned) == 4143
    lines = (RELEASE / "Annotations.txt").read_text().splitlines()
    for a, line in zip(planned, lines, strict=True):  # Annotations order, row for row
        category, ytid, quality, start, end = line.split("&")
        assert (a.row.category, a.row.clip_id[:11], a.quality, a.start, a.end) == (
            category, ytid, quality, int(start), int(end))  # fmt: skip
    for split in SPLITS:
        ours = [i for i, a in enumerate(planned) if a.row.split == split]
        theirs = read_order_file(RELEASE / f"{split}_order.h5")
        assert ours == sorted(theirs.tolist())  # the same rows, ascending
    test_only = ave_rows(release_db, _rows(release_db, None, "list"), "list", "test")
    assert len(test_only) == 402


@needs_release
def test_split_from_the_zip_set_lists(release_store: Settings, tmp_path: Path) -> None:
    """trainSet.txt / valSet.txt / testSet.txt (Annotations format, with the zip's header)
    set the same row splits as the order files."""
    lines = (RELEASE / "Annotations.txt").read_text().splitlines()
    before = {r.clip_id: r.events for r in _list(release_store)}
    paths = []
    for split, name in zip(SPLITS, ("trainSet.txt", "valSet.txt", "testSet.txt"), strict=True):
        rows = read_order_file(RELEASE / f"{split}_order.h5")
        path = tmp_path / name
        header = "Category&VideoID&Quality&StartTime&EndTime\r\n"
        path.write_text(header + "".join(lines[i] + "\r\n" for i in rows))
        paths.append(path)
    report = _import_split(release_store, paths)
    assert report.rows_by_split == {"train": 3339, "val": 402, "test": 402}
    assert {r.clip_id: r.events for r in _list(release_store)} == before


@needs_release
def test_split_file_errors_are_one_line(release_store: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "testSet.txt"
    bad.write_text("Church bell&RUhOCu3LNXM&good&0&10\nDog&AAAAAAAAAAA&good&0&10\n")
    with pytest.raises(ClipListError, match=r"testSet\.txt: 1 row\(s\) match no stored") as info:
        _import_split(release_store, [bad])
    assert info.value.problems == [f"{bad}:2: no stored AVE row Dog&AAAAAAAAAAA&0&10"]
    with h5py.File(tmp_path / "val_order.h5", "w") as f:
        f.create_dataset("order", data=np.array([5000]))
    with pytest.raises(ClipListError, match="names row 5000, but the store holds 4143"):
        _import_split(release_store, [tmp_path / "val_order.h5"])
    both = [RELEASE / "train_order.h5", tmp_path / "val_order.h5"]
    with h5py.File(tmp_path / "val_order.h5", "w") as f:
        f.create_dataset("order", data=np.array([40]))  # row 40 is a train row
    with pytest.raises(ClipListError, match=r"row 41 .* is already in split train"):
        _import_split(release_store, both)


TWO_EVENT = (
    "Male speech, man speaking&aaaaaaaaaaa&good&1&4\n"
    "Dog&bbbbbbbbbbb&good&0&10\n"
    "Female speech, woman speaking&aaaaaaaaaaa&bad&5&9\n"
    "Dog&ccccccccccc&good&2&6\n"
)


def test_export_of_a_two_event_video_gives_both_rows_back(
    settings: Settings, store: Store, tmp_path: Path, capsys: pytest.CaptureFixture
):
    path = tmp_path / "Annotations.txt"
    path.write_text(TWO_EVENT)
    clips.import_clip_list(store, settings, path)
    for split, rows in (("train", [0, 1]), ("test", [2]), ("val", [3])):
        with h5py.File(tmp_path / f"{split}_order.h5", "w") as f:
            f.create_dataset("order", data=np.array(rows))
    base = ["--data-dir", str(settings.data_dir), "--no-progress"]
    orders = [str(tmp_path / f"{s}_order.h5") for s in SPLITS]
    assert run([*base, "clips", "import-split", *orders, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows_by_split"] == {"train": 2, "val": 1, "test": 1}
    assert report["clips_spanning_splits"] == 1
    assert run([*base, "clips", "list", "--json"]) == 0
    listed = {r["ytid"]: r["events"] for r in json.loads(capsys.readouterr().out)}
    assert listed["aaaaaaaaaaa"] == [
        "Male speech, man speaking 1-4 (train)",
        "Female speech, woman speaking 5-9 (test)",
    ]
    engine = make_engine(settings.db_url)
    rng = np.random.default_rng(0)
    with session_scope(engine) as s:
        for clip in s.query(Clip).order_by(Clip.id):
            fpath = feature_path(settings.features_dir, "synthetic", clip.clip_id)
            visual = rng.normal(size=(10, 7, 7, 512)).astype(np.float32)
            write_features(
                fpath, visual, rng.normal(size=(10, 128)).astype(np.float32), _provenance()
            )
            fq.record_feature_file(
                s, clip.id, extractor="synthetic", path=str(fpath.relative_to(settings.data_dir)),
                dtype="float16", is_random=True, weights_sha256="random",
                provenance=_provenance().to_json(), sha256=None,
            )  # fmt: skip
    engine.dispose()
    out = tmp_path / "ave"
    args = ["--data-dir", str(settings.data_dir), "--no-progress", "export", str(out)]
    args += ["--format", "ave-h5", "--labels", "list", "--allow-random-features", "--json"]
    assert run(args) == 0
    capsys.readouterr()
    lines = (out / "Annotations.txt").read_text().splitlines()
    assert lines[1:] == TWO_EVENT.splitlines()  # every row, in list order, quality kept
    with h5py.File(out / "labels.h5") as f:
        labels = f["avadataset"][()]
    with h5py.File(out / "visual_feature.h5") as f:
        visual = f["avadataset"][()]
    cats = (out / "categories.txt").read_text().splitlines()
    assert labels.shape == (4, 10, 4)
    names = ("Male speech, man speaking", "Female speech, woman speaking", "Dog")
    male, female, dog = (cats.index(c) for c in names)
    assert labels[0].argmax(-1).tolist() == [3, male, male, male, 3, 3, 3, 3, 3, 3]
    assert labels[2].argmax(-1).tolist() == [3] * 5 + [female] * 4 + [3]
    assert labels[1].argmax(-1).tolist() == [dog] * 10
    np.testing.assert_array_equal(visual[0], visual[2])  # the same video's features twice
    for split, rows in (("train", [0, 1]), ("test", [2]), ("val", [3])):
        with h5py.File(out / f"{split}_order.h5") as f:
            assert list(f) == ["order"] and f["order"][()].tolist() == rows
    assert run([*args[:4], str(tmp_path / "t"), *args[5:], "--split", "test"]) == 0
    with h5py.File(tmp_path / "t" / "labels.h5") as f:
        assert f["avadataset"].shape[0] == 1

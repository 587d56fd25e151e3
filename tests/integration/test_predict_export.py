"""Train on list labels, predict, export in the three formats and read the exports back."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from avel_annotate.cli.main import run
from avel_annotate.config import Settings
from avel_annotate.domain.cliplist import parse_clip_list
from avel_annotate.features.provenance import Provenance
from avel_annotate.features.store_files import feature_path, write_features
from avel_annotate.services.clips import import_clip_list
from avel_annotate.services.store import Store
from avel_annotate.store import features as fq
from avel_annotate.store.engine import make_engine, session_scope
from avel_annotate.store.tables import Clip, Prediction

CATS = ["Church bell", "Dog", "Flute"]


def _provenance() -> Provenance:
    return Provenance(
        extractor="synthetic",
        visual_model="none",
        visual_weights="random",
        audio_model="none",
        audio_weights="random",
        random=True,
        preprocessing="none",
        decoder="none",
        dtype="float32",
        frames_per_second=16,
    )


@pytest.fixture
def labelled_store(settings: Settings, store: Store, tmp_path: Path) -> Settings:
    """24 AVE-style clips with list labels and feature files whose signal follows the labels."""
    rng = np.random.default_rng(0)
    lines = []
    for i in range(24):
        start, end = sorted(rng.integers(0, 11, size=2))
        lines.append(f"{CATS[i % 3]}&vid{i:08d}&good&{start}&{max(end, start + 1)}")
    path = tmp_path / "Annotations.txt"
    path.write_text("\n".join(lines) + "\n")
    import_clip_list(store, settings, path)
    parsed = {r.ytid: r for r in parse_clip_list("a", path.read_text()).rows}
    engine = make_engine(settings.db_url)
    with session_scope(engine) as s:
        for n, clip in enumerate(s.query(Clip).order_by(Clip.id)):
            clip.split = ("train", "train", "val", "test")[n % 4]
            row = parsed[clip.ytid]
            visual = rng.normal(size=(10, 7, 7, 512)).astype(np.float32) * 0.1
            audio = rng.normal(size=(10, 128)).astype(np.float32) * 0.1
            assert row.event is not None
            visual[row.event[0] : row.event[1], :, :, CATS.index(row.label)] += 2.0
            audio[row.event[0] : row.event[1], CATS.index(row.label)] += 2.0
            fpath = feature_path(settings.features_dir, "synthetic", clip.clip_id)
            write_features(fpath, visual, audio, _provenance())
            fq.record_feature_file(
                s,
                clip.id,
                extractor="synthetic",
                path=str(fpath.relative_to(settings.data_dir)),
                dtype="float16",
                is_random=True,
                weights_sha256="random",
                provenance=_provenance().to_json(),
                sha256=None,
            )
    engine.dispose()
    return settings


def _avel(settings: Settings, *args: str) -> list[str]:
    return ["--data-dir", str(settings.data_dir), "--no-progress", *args]


def test_train_predict_export_round_trip(
    labelled_store: Settings, tmp_path: Path, capsys: pytest.CaptureFixture
):
    s = labelled_store
    train = [
        "train",
        "--labels",
        "list",
        "--epochs",
        "2",
        "--stages",
        "psp",
        "--batch-size",
        "8",
        "--name",
        "m1",
        "--json",
    ]
    assert run(_avel(s, *train)) == 1
    assert "random weights" in capsys.readouterr().err
    assert run(_avel(s, *train, "--allow-random-features")) == 0
    assert json.loads(capsys.readouterr().out)["n_train"] == 12

    assert run(_avel(s, "predict", "--allow-random-features", "--json")) == 0
    assert json.loads(capsys.readouterr().out)["predicted"] == 24
    assert run(_avel(s, "predict", "--allow-random-features", "--json")) == 0
    assert json.loads(capsys.readouterr().out)["predicted"] == 0  # already done
    engine = make_engine(s.db_url)
    with session_scope(engine) as session:
        preds = session.query(Prediction).all()
        assert len(preds) == 24
        assert all(len(json.loads(p.event_probs)) == 10 and 0 <= p.score <= 1 for p in preds)
        assert all(len(json.loads(p.category_probs)) == 3 for p in preds)
    engine.dispose()

    out = tmp_path / "ave"
    assert (
        run(
            _avel(
                s,
                "export",
                str(out),
                "--format",
                "ave-h5",
                "--labels",
                "list",
                "--allow-random-features",
                "--json",
            )
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["by_split"] == {"train": 12, "val": 6, "test": 6}
    clips = list(csv.DictReader((out / "clips.csv").open()))
    with h5py.File(out / "labels.h5") as fh:
        labels = fh["avadataset"][()]
    with h5py.File(out / "visual_feature.h5") as fh:
        assert fh["avadataset"].shape == (24, 10, 7, 7, 512)
    with h5py.File(out / "train_order.h5") as fh:
        assert list(fh) == ["order"]  # the release's key
        assert sorted(fh["order"][()]) == [i for i, c in enumerate(clips) if c["split"] == "train"]
    cats = (out / "categories.txt").read_text().split("\n")[:3]
    assert cats == CATS
    for i, clip in enumerate(clips):
        bits = "".join("0" if labels[i, t, 3] == 1 else "1" for t in range(10))
        assert bits == clip["segments"]
        assert labels[i].sum() == 10
    # the authors' layout feeds our own trainer too
    assert (
        run(
            _avel(
                s,
                "evaluate",
                "--model",
                "m1",
                "--split",
                "test",
                "--from-ave-h5",
                str(out),
                "--json",
            )
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["n_clips"] == 6

    csv_out = tmp_path / "labels.csv"
    assert run(_avel(s, "export", str(csv_out), "--format", "csv", "--labels", "list")) == 0
    back = parse_clip_list(str(csv_out), csv_out.read_text())
    assert back.format == "avel100k" and back.problems == () and len(back.rows) == 24
    by_id = {c["clip_id"]: c for c in clips}
    assert all(by_id[r.clip_id or ""]["segments"] == r.segments for r in back.rows)
    assert (tmp_path / "labels.csv.card.md").read_text().count("| Church bell |") == 1

    jl = tmp_path / "labels.jsonl"
    assert run(_avel(s, "export", str(jl), "--format", "jsonl", "--labels", "list")) == 0
    records = [json.loads(line) for line in jl.read_text().splitlines()]
    assert len(records) == 24 and "m1" in records[0]["model_agreement"]


def test_report_is_one_self_contained_page(labelled_store: Settings, tmp_path: Path):
    s = labelled_store
    assert (
        run(
            _avel(
                s,
                "train",
                "--labels",
                "list",
                "--epochs",
                "1",
                "--stages",
                "psp",
                "--batch-size",
                "8",
                "--name",
                "m1",
                "--allow-random-features",
            )
        )
        == 0
    )
    assert run(_avel(s, "predict", "--allow-random-features")) == 0
    assert (
        run(_avel(s, "evaluate", "--labels", "list", "--split", "test", "--allow-random-features"))
        == 0
    )
    out = tmp_path / "r.html"
    assert run(_avel(s, "report", "--out", str(out))) == 0
    page = out.read_text()
    assert page.startswith("<!doctype html>") and "<script" not in page
    assert "src=" not in page and "href=" not in page  # nothing to fetch
    for title in (
        "Clips per category and split",
        "Fetch outcomes",
        "Confusion matrix: m1 on test",
        "event probabilities",
        "Segment accuracy per model version",
        "Annotation progress (clips)",
        "Agreement of re-checks: all, and per annotator",
        "Disagreements (0 open, 0 in all)",
        "Model against curated labels, per model version",
    ):
        assert title in page
    # issue 10 item 5: random weights are said loudly, once for features and once for models
    assert "feature file(s) were extracted with RANDOM weights" in page
    assert "Model version(s) m1 were trained on random-weight features" in page
    assert page.count("<svg") >= 5
    assert "vid00000000_000000" in page  # a timeline row

"""`avel features extract` over fetched clips in the store (real ffmpeg media, PyAV decode)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from avel_annotate.cli.main import run
from avel_annotate.config import Settings
from avel_annotate.features.store_files import read_features
from avel_annotate.services.clips import import_clip_list
from avel_annotate.services.store import Store
from avel_annotate.store.engine import make_engine, session_scope
from avel_annotate.store.tables import Clip, FeatureFile


def make_clip_media(data_dir: Path, clip_id: str, seconds: float = 10.0) -> tuple[str, str]:
    """A normalised clip as `avel fetch` leaves it: 10-s CFR H.264+AAC mp4 + 16 kHz mono wav."""
    rel_mp4 = f"clips/{clip_id[:2]}/{clip_id}.mp4"
    rel_wav = f"clips/{clip_id[:2]}/{clip_id}.wav"
    (data_dir / rel_mp4).parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size=160x120:rate=16:d={seconds}",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:sample_rate=16000:d={seconds}",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
            "-shortest",
            str(data_dir / rel_mp4),
        ],
        check=True,
    )
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:sample_rate=16000:d={seconds}",
            "-ac",
            "1",
            "-c:a",
            "pcm_s16le",
            str(data_dir / rel_wav),
        ],
        check=True,
    )
    return rel_mp4, rel_wav


def mark_fetched(settings: Settings, clip_id: str, mp4: str, wav: str) -> None:
    engine = make_engine(settings.db_url)
    with session_scope(engine) as s:
        clip = s.query(Clip).filter_by(clip_id=clip_id).one()
        clip.status, clip.media_path, clip.wav_path, clip.duration_s = "fetched", mp4, wav, 10.0
    engine.dispose()


@pytest.fixture
def store_with_clips(settings: Settings, store: Store, tmp_path: Path) -> Settings:
    lst = tmp_path / "v.csv"
    lst.write_text("-aaaaaaaaaa,0,dog,train\nbbbbbbbbbbb,5,cat,train\ncccccccccc-,0,dog,test\n")
    import_clip_list(store, settings, lst)
    for clip_id in ("-aaaaaaaaaa_000000", "bbbbbbbbbbb_000005"):
        mark_fetched(settings, clip_id, *make_clip_media(settings.data_dir, clip_id))
    return settings


def test_extract_records_random_features_and_skips_done_clips(
    store_with_clips: Settings, capsys: pytest.CaptureFixture
):
    settings = store_with_clips
    args = [
        "--data-dir",
        str(settings.data_dir),
        "--no-progress",
        "features",
        "extract",
        "--visual",
        "resnet18",
        "--frames-per-second",
        "2",
        "--json",
    ]
    assert run(args) == 1  # no weights anywhere and no permission for random ones
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "resnet18" in err
    assert run([*args, "--allow-random-weights"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["extractor"], report["done"], report["failed"]) == (
        "resnet18_vggish-random",
        2,
        0,
    )
    assert report["random_weights"] is True
    engine = make_engine(settings.db_url)
    with session_scope(engine) as s:
        rows = s.query(FeatureFile).all()
        assert len(rows) == 2 and all(r.is_random for r in rows)
        path = settings.data_dir / rows[0].path
    engine.dispose()
    features = read_features(path)
    assert features.visual.shape == (10, 7, 7, 512) and features.visual.dtype == np.float16
    assert features.audio.shape == (10, 128)
    assert features.provenance.random and features.provenance.frames_per_second == 2
    assert run([*args, "--allow-random-weights"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["selected"], again["done"]) == (0, 0)


def test_corrupt_media_is_reported_per_clip_and_others_continue(
    store_with_clips: Settings, capsys: pytest.CaptureFixture
):
    settings = store_with_clips
    (settings.data_dir / "clips/bb/bbbbbbbbbbb_000005.mp4").write_bytes(b"not a video")
    args = [
        "--data-dir",
        str(settings.data_dir),
        "--no-progress",
        "features",
        "extract",
        "--visual",
        "resnet18",
        "--frames-per-second",
        "2",
        "--allow-random-weights",
        "--json",
    ]
    assert run(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["done"], report["failed"]) == (1, 1)
    assert report["failures"][0].startswith("bbbbbbbbbbb_000005: ")


def test_worker_processes_give_the_same_feature_files_as_in_process_decoding(
    store_with_clips: Settings, capsys: pytest.CaptureFixture
):
    settings = store_with_clips
    base = ["--data-dir", str(settings.data_dir), "--no-progress", "features", "extract",
            "--visual", "resnet18", "--frames-per-second", "2", "--allow-random-weights",
            "--json"]  # fmt: skip
    got: dict[int, dict[str, np.ndarray]] = {}
    for workers in (0, 2):
        assert run([*base, "--force", "--decode-workers", str(workers)]) == 0
        report = json.loads(capsys.readouterr().out)
        assert (report["done"], report["failed"], report["decode_workers"]) == (2, 0, workers)
        engine = make_engine(settings.db_url)
        with session_scope(engine) as s:
            rows = {r.path: settings.data_dir / r.path for r in s.query(FeatureFile).all()}
        engine.dispose()
        got[workers] = {}
        for rel, path in rows.items():
            f = read_features(path)
            got[workers][rel + ":v"], got[workers][rel + ":a"] = f.visual, f.audio
    assert got[0].keys() == got[2].keys() and len(got[0]) == 4
    for key, value in got[0].items():
        np.testing.assert_array_equal(value, got[2][key])

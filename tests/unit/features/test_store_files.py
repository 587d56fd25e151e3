"""Feature files: round trip, atomic write, validation errors naming the file."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from avel_annotate.errors import FeatureError, InvalidIdError
from avel_annotate.features import store_files
from avel_annotate.features.provenance import Provenance
from avel_annotate.features.store_files import feature_path, read_features, write_features

PROV = Provenance(
    extractor="vgg19_vggish",
    visual_model="vgg19",
    visual_weights="random",
    audio_model="vggish",
    audio_weights="random",
    random=True,
    preprocessing="torchvision",
    decoder="pyav-test",
    dtype="bfloat16",
    frames_per_second=16,
)


def _arrays(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((10, 7, 7, 512)).astype(np.float32),
        rng.standard_normal((10, 128)).astype(np.float32),
    )


def test_path_layout_and_bad_ids(tmp_path: Path) -> None:
    p = feature_path(tmp_path, "vgg19_vggish", "abcdefghijk_000030")
    assert p == tmp_path / "vgg19_vggish" / "ab" / "abcdefghijk_000030.npz"
    for bad in ("../x", "a/b", "", ".hidden"):
        with pytest.raises(InvalidIdError):
            feature_path(tmp_path, "vgg19_vggish", bad)


def test_round_trip_float16_with_provenance(tmp_path: Path) -> None:
    visual, audio = _arrays()
    path = write_features(
        feature_path(tmp_path, "vgg19_vggish", "clip_000001"), visual, audio, PROV
    )
    got = read_features(path)
    assert got.visual.dtype == np.float16 and got.audio.dtype == np.float16
    np.testing.assert_array_equal(got.visual, visual.astype(np.float16))
    np.testing.assert_array_equal(got.audio, audio.astype(np.float16))
    assert got.provenance == PROV
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left
    assert 0.4e6 < path.stat().st_size < 0.6e6


def test_overwrite_is_atomic_replace(tmp_path: Path) -> None:
    """A reader in another thread, reading while the file is overwritten again and again,
    always finds a whole file holding one of the versions: never a missing, partial or mixed
    one. (Writing in place fails this at once: np.savez writes the zip member by member.)"""
    path = tmp_path / "x.npz"
    versions = [_arrays(i) for i in range(3)]
    audio16 = [a.astype(np.float16) for _, a in versions]
    write_features(path, *versions[0], PROV)
    write_features(path, *versions[1], PROV)
    np.testing.assert_array_equal(read_features(path).audio, audio16[1])

    stop = threading.Event()
    seen: list[int] = []
    problems: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                got = read_features(path)
            except FeatureError as e:  # missing, truncated or corrupt
                problems.append(e.message)
                continue
            match = [i for i, a in enumerate(audio16) if np.array_equal(got.audio, a)]
            if len(match) != 1 or not np.array_equal(
                got.visual, versions[match[0]][0].astype(np.float16)
            ):
                problems.append("a file mixing two versions")
            else:
                seen.append(match[0])

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for n in range(60):
            write_features(path, *versions[n % 3], PROV)
    finally:
        stop.set()
        thread.join()
    assert problems == []
    assert len(seen) > 0 and len(set(seen)) > 1  # it really read while the writes went on
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left


def test_a_write_that_fails_midway_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "x.npz"
    write_features(path, *_arrays(0), PROV)
    before = path.read_bytes()

    def half_then_fail(fh: Any, **arrays: np.ndarray) -> None:
        fh.write(b"PK\x03\x04 half a zip")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_files.np, "savez", half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        write_features(path, *_arrays(1), PROV)
    assert path.read_bytes() == before  # the old file, whole
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # and no temp file behind


def test_write_refuses_wrong_shapes_and_overflow(tmp_path: Path) -> None:
    visual, audio = _arrays()
    with pytest.raises(FeatureError, match="shapes"):
        write_features(tmp_path / "a.npz", visual[:9], audio, PROV)
    with pytest.raises(FeatureError, match="inf/nan"):
        write_features(tmp_path / "b.npz", visual * 1e6, audio, PROV)
    assert list(tmp_path.iterdir()) == []


def test_corrupt_files_name_the_file(tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.npz"
    write_features(truncated, *_arrays(), PROV)
    truncated.write_bytes(truncated.read_bytes()[:1000])
    with pytest.raises(FeatureError, match=r"truncated\.npz"):
        read_features(truncated)

    wrong = tmp_path / "wrong.npz"
    visual, audio = _arrays()
    np.savez(wrong, visual=visual.astype(np.float16), audio=audio, provenance=PROV.to_json())
    with pytest.raises(FeatureError, match=r"wrong\.npz: feature dtypes"):
        read_features(wrong)

    lacking = tmp_path / "lacking.npz"
    np.savez(lacking, visual=visual.astype(np.float16))
    with pytest.raises(FeatureError, match=r"lacking\.npz: feature file lacks"):
        read_features(lacking)

    bad_prov = tmp_path / "badprov.npz"
    np.savez(
        bad_prov,
        visual=visual.astype(np.float16),
        audio=audio.astype(np.float16),
        provenance='{"extractor": "x"}',
    )
    with pytest.raises(FeatureError, match=r"badprov\.npz: incomplete provenance"):
        read_features(bad_prov)

    with pytest.raises(FeatureError, match="not found"):
        read_features(tmp_path / "missing.npz")

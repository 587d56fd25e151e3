"""Feature files: round trip, atomic write, validation errors naming the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from avel_annotate.errors import FeatureError, InvalidIdError
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
    path = tmp_path / "x.npz"
    write_features(path, *_arrays(0), PROV)
    write_features(path, *_arrays(1), PROV)
    np.testing.assert_array_equal(read_features(path).audio, _arrays(1)[1].astype(np.float16))


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

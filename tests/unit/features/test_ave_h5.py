"""AVE h5 <-> per-clip feature files: float64 in, float16 stored, float64 out, order kept."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from avel_annotate.errors import FeatureError
from avel_annotate.features.ave_h5 import (
    DATASET_KEY,
    export_ave_h5,
    import_ave_h5,
    write_h5_array,
)
from avel_annotate.features.provenance import Provenance
from avel_annotate.features.store_files import read_features, write_features
from avel_annotate.fileio import is_temp

N = 3


def _write_ave(folder: Path, n: int = N) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    visual = np.abs(rng.standard_normal((n, 10, 7, 7, 512)))  # float64, like the release
    audio = rng.standard_normal((n, 10, 128))
    pv, pa = folder / "visual_feature.h5", folder / "audio_feature.h5"
    with h5py.File(pv, "w") as f:
        f.create_dataset(DATASET_KEY, data=visual)
    with h5py.File(pa, "w") as f:
        f.create_dataset(DATASET_KEY, data=audio)
    return pv, pa, visual, audio


def test_import_then_export_round_trips_through_float16(tmp_path: Path) -> None:
    pv, pa, visual, audio = _write_ave(tmp_path)
    ids = ["aaaaaaaaaaa_000000", "bbbbbbbbbbb_000010", "ccccccccccc_000020"]
    paths = import_ave_h5(pv, pa, ids, tmp_path / "features")
    assert [p.stem for p in paths] == ids
    first = read_features(paths[1])
    np.testing.assert_array_equal(first.visual, visual[1].astype(np.float16))
    np.testing.assert_array_equal(first.audio, audio[1].astype(np.float16))
    assert first.provenance.extractor == "ave-released"
    assert first.provenance.random is False and "row 1" in first.provenance.notes

    out_v, out_a = tmp_path / "out" / "visual_feature.h5", tmp_path / "out" / "audio_feature.h5"
    order = [paths[2], paths[0]]
    assert export_ave_h5(order, out_v, out_a) == 2
    with h5py.File(out_v, "r") as fv, h5py.File(out_a, "r") as fa:
        v, a = fv[DATASET_KEY], fa[DATASET_KEY]
        assert v.shape == (2, 10, 7, 7, 512) and v.dtype == np.float64
        assert a.shape == (2, 10, 128) and a.dtype == np.float64
        np.testing.assert_array_equal(v[0], visual[2].astype(np.float16).astype(np.float64))
        np.testing.assert_array_equal(a[1], audio[0].astype(np.float16).astype(np.float64))
    assert sorted(p.name for p in out_v.parent.iterdir()) == [
        "audio_feature.h5",
        "visual_feature.h5",
    ]


def test_import_refuses_mismatched_rows_and_keys(tmp_path: Path) -> None:
    pv, pa, _, _ = _write_ave(tmp_path)
    with pytest.raises(FeatureError, match="3 rows"):
        import_ave_h5(pv, pa, ["only_one"], tmp_path / "features")
    wrong = tmp_path / "wrong.h5"
    with h5py.File(wrong, "w") as f:
        f.create_dataset("features", data=np.zeros((3, 10, 128)))
    with pytest.raises(FeatureError, match="no dataset 'avadataset'"):
        import_ave_h5(pv, wrong, ["a", "b", "c"], tmp_path / "features")


def test_export_refuses_random_features_and_mixed_extractors(tmp_path: Path) -> None:
    def prov(extractor: str, random: bool) -> Provenance:
        return Provenance(
            extractor=extractor,
            visual_model="vgg19",
            visual_weights="random" if random else "sha256:00",
            audio_model="vggish",
            audio_weights="random" if random else "sha256:11",
            random=random,
            preprocessing="torchvision",
            decoder="test",
            dtype="float32",
            frames_per_second=16,
        )

    v, a = np.zeros((10, 7, 7, 512)), np.zeros((10, 128))
    rnd = write_features(tmp_path / "r.npz", v, a, prov("vgg19_vggish", True))
    one = write_features(tmp_path / "a.npz", v, a, prov("vgg19_vggish", False))
    two = write_features(tmp_path / "b.npz", v, a, prov("resnet18_vggish", False))
    out_v, out_a = tmp_path / "v.h5", tmp_path / "a.h5"
    with pytest.raises(FeatureError, match="random weights"):
        export_ave_h5([rnd], out_v, out_a)
    assert export_ave_h5([rnd], out_v, out_a, allow_random=True) == 1
    with pytest.raises(FeatureError, match="differs"):
        export_ave_h5([one, two], tmp_path / "v2.h5", tmp_path / "a2.h5")
    assert not (tmp_path / "v2.h5").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert not [p for p in tmp_path.iterdir() if is_temp(p)]
    # a failed export over an earlier one leaves both of its files as they were
    before = (out_v.read_bytes(), out_a.read_bytes())
    with pytest.raises(FeatureError, match="differs"):
        export_ave_h5([one, two], out_v, out_a)
    assert (out_v.read_bytes(), out_a.read_bytes()) == before
    assert not [p for p in tmp_path.iterdir() if is_temp(p)]


def test_write_h5_array_replaces_atomically(tmp_path: Path) -> None:
    path = tmp_path / "labels.h5"
    write_h5_array(path, np.zeros((2, 10, 3)))
    write_h5_array(path, np.arange(4), key="order")
    with h5py.File(path, "r") as fh:
        assert list(fh.keys()) == ["order"]
        np.testing.assert_array_equal(fh["order"][()], np.arange(4))
    assert [p.name for p in tmp_path.iterdir()] == ["labels.h5"]

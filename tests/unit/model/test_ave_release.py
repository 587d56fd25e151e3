# ruff: noqa: E501  (the table of expected messages reads best one case per line)
"""The real AVE release files (order files, Annotations.txt) and every layout mismatch."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from avel_annotate.errors import ModelError
from avel_annotate.model.data import AveH5Dataset, read_order_file
from avel_annotate.model.synthetic import SyntheticSpec, write_synthetic_ave

RELEASE = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "samples" / "ave_release"
needs_release = pytest.mark.skipif(not RELEASE.is_dir(), reason="../shared is absent")
N_ROWS = 4143


@needs_release
def test_real_order_files_are_read() -> None:
    rows = {s: read_order_file(RELEASE / f"{s}_order.h5") for s in ("train", "val", "test")}
    assert {s: len(r) for s, r in rows.items()} == {"train": 3339, "val": 402, "test": 402}
    together = np.concatenate(list(rows.values()))
    assert sorted(together.tolist()) == list(range(N_ROWS))  # a partition of Annotations.txt
    assert rows["train"][:3].tolist() == [40, 30, 69]


@pytest.fixture
def release_like(tmp_path) -> Path:
    """The release's shapes with 4,143 rows (features chunked and mostly unwritten, so the files
    stay small) plus the real order files copied in."""
    if not RELEASE.is_dir():
        pytest.skip("../shared is absent")
    root = tmp_path / "ave"
    root.mkdir()
    rng = np.random.default_rng(0)
    with h5py.File(root / "audio_feature.h5", "w") as f:
        f.create_dataset("avadataset", data=rng.normal(size=(N_ROWS, 10, 128)).astype("f2"))
    with h5py.File(root / "visual_feature.h5", "w") as f:
        f.create_dataset("avadataset", (N_ROWS, 10, 7, 7, 512), "f2", chunks=(1, 10, 7, 7, 512))
    labels = np.zeros((N_ROWS, 10, 29))
    labels[:, :, 28] = 1
    with h5py.File(root / "labels.h5", "w") as f:
        f.create_dataset("avadataset", data=labels)
    for split in ("train", "val", "test"):
        shutil.copy(RELEASE / f"{split}_order.h5", root / f"{split}_order.h5")
    return root


@needs_release
def test_dataset_on_real_order_files(release_like) -> None:
    test = AveH5Dataset(release_like, "test")
    assert len(test) == 402 and test.n_categories == 28
    assert test.rows.tolist() == read_order_file(RELEASE / "test_order.h5").tolist()
    with h5py.File(release_like / "audio_feature.h5") as f:
        row = int(test.rows[5])
        np.testing.assert_array_equal(test[5].audio.numpy(), f["avadataset"][row].astype("f4"))


@needs_release
def test_right_labels_name_is_accepted(release_like) -> None:
    (release_like / "labels.h5").rename(release_like / "right_labels.h5")
    assert len(AveH5Dataset(release_like, "val")) == 402


def _rewrite(path: Path, key: str, data: np.ndarray) -> None:
    path.unlink()
    with h5py.File(path, "w") as f:
        f.create_dataset(key, data=data)


@pytest.fixture
def small(tmp_path) -> Path:
    return write_synthetic_ave(tmp_path / "s", SyntheticSpec(4, 2, 2, n_categories=2, seed=1))


def test_older_exports_with_avadataset_order_key(small) -> None:
    _rewrite(small / "val_order.h5", "avadataset", np.array([5, 4]))
    assert AveH5Dataset(small, "val").rows.tolist() == [5, 4]


# (file, key, data, expected message)
MISMATCHES = [
    ("val_order.h5", "rows", np.array([1]), r"val_order\.h5: no dataset 'order'"),
    ("val_order.h5", "order", np.zeros((2, 2), "i8"), r"val_order\.h5: dataset 'order' has shape \(2, 2\)"),
    ("val_order.h5", "order", np.array([0.5]), r"val_order\.h5: dataset 'order' has dtype float64"),
    ("val_order.h5", "order", np.array([1, 99]), r"val_order\.h5: dataset 'order' names rows 1\.\.99, outside 0\.\.7"),
    ("val_order.h5", "order", np.array([1, 1]), r"val_order\.h5: dataset 'order' \(shape \(2,\)\) repeats"),
    ("labels.h5", "labels", np.zeros((8, 10, 3)), r"labels\.h5: no dataset 'avadataset'"),
    ("labels.h5", "avadataset", np.zeros((8, 10)), r"labels\.h5: dataset 'avadataset' has shape \(8, 10\), expected one-hot"),
    ("audio_feature.h5", "avadataset", np.zeros((8, 10, 64)), r"audio_feature\.h5: dataset 'avadataset' has shape \(8, 10, 64\), expected \[N, 10, 128\]"),
    ("audio_feature.h5", "avadataset", np.zeros((7, 10, 128)), r"audio_feature\.h5: dataset 'avadataset' has shape \(7, 10, 128\), 7 rows, but labels\.h5 has 8"),
    ("visual_feature.h5", "avadataset", np.zeros((8, 10, 49, 512), "f2"), r"visual_feature\.h5: dataset 'avadataset' has shape \(8, 10, 49, 512\)"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "key", "data", "pattern"), MISMATCHES)
def test_every_mismatch_is_one_line_naming_file_key_shape(small, name, key, data, pattern) -> None:
    _rewrite(small / name, key, data)
    with pytest.raises(ModelError, match=pattern) as info:
        AveH5Dataset(small, "val")
    assert "\n" not in info.value.one_line()


def test_no_labels_file_names_both(tmp_path, small) -> None:
    (small / "labels.h5").unlink()
    with pytest.raises(ModelError, match=r"no labels\.h5.*right_labels\.h5"):
        AveH5Dataset(small, "val")

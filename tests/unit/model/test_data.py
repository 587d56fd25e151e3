"""AVE h5 layout reading (streaming), synthetic generator, D_ae / D_bg split."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from avel_annotate.errors import ModelError
from avel_annotate.model.data import (
    AveH5Dataset,
    ClipDataset,
    batch_indices,
    clip_categories,
    iter_batches,
    labels_onehot_to_ids,
    split_ae_bg,
)
from avel_annotate.model.synthetic import SyntheticSpec, write_synthetic_ave

SPEC = SyntheticSpec(n_train=20, n_val=6, n_test=6, n_categories=3, seed=7)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return write_synthetic_ave(tmp_path_factory.mktemp("ave"), SPEC)


def test_layout_is_the_authors(root) -> None:
    """Keys as in the real release: features and labels under avadataset, splits under order."""
    with h5py.File(root / "labels.h5") as f:
        assert list(f) == ["avadataset"]
        labels = f["avadataset"][()]
    assert labels.shape == (32, 10, 4) and np.all(labels.sum(-1) == 1)
    with h5py.File(root / "visual_feature.h5") as f:
        assert list(f) == ["avadataset"] and f["avadataset"].shape == (32, 10, 7, 7, 512)
    with h5py.File(root / "test_order.h5") as f:
        assert list(f) == ["order"] and f["order"].dtype == np.int64
        assert f["order"][()].tolist() == list(range(26, 32))


def test_generator_is_seeded(root, tmp_path) -> None:
    again = write_synthetic_ave(tmp_path, SPEC)
    for name in ("audio_feature.h5", "labels.h5"):
        with h5py.File(root / name) as a, h5py.File(again / name) as b:
            assert np.array_equal(a["avadataset"][()], b["avadataset"][()])


def test_dataset_reads_rows_of_its_split(root) -> None:
    ds = AveH5Dataset(root, "val")
    assert isinstance(ds, ClipDataset)
    assert len(ds) == 6 and ds.n_categories == 3
    ex = ds[2]
    assert ex.audio.shape == (10, 128) and ex.visual.shape == (10, 7, 7, 512)
    assert ex.audio.dtype == torch.float32 and ex.segment_labels.dtype == torch.int64
    with h5py.File(root / "audio_feature.h5") as f:
        np.testing.assert_array_equal(ex.audio.numpy(), f["avadataset"][22].astype(np.float32))
    batch = ds.read_batch([5, 0, 3, 3])  # unsorted with a repeat
    assert batch.index.tolist() == [0, 3, 3, 5]
    torch.testing.assert_close(batch.audio[3], ds[5].audio)
    assert ex.category == int(np.bincount(ex.segment_labels[ex.segment_labels != 3]).argmax())


def test_streaming_batches_cover_each_clip_once(root) -> None:
    ds = AveH5Dataset(root, "train")
    batches = batch_indices(np.arange(len(ds)), 8, shuffle=True, seed=(1, 2))
    assert all(np.all(np.diff(b) > 0) for b in batches)  # sorted for forward h5 reads
    seen = np.concatenate([b.index.numpy() for b in iter_batches(ds, batches)])
    assert sorted(seen.tolist()) == list(range(len(ds)))
    again = batch_indices(np.arange(len(ds)), 8, shuffle=True, seed=(1, 2))
    assert all(np.array_equal(a, b) for a, b in zip(batches, again, strict=True))


def test_missing_files_named(tmp_path) -> None:
    with pytest.raises(ModelError, match=r"audio_feature\.h5"):
        AveH5Dataset(tmp_path, "train")


def test_label_helpers() -> None:
    onehot = np.zeros((2, 3, 4))
    onehot[0, :, 1] = 1
    onehot[1, 0, 2] = 1
    onehot[1, 1:, 3] = 1
    ids = labels_onehot_to_ids(onehot)
    assert ids.tolist() == [[1, 1, 1], [2, 3, 3]]
    assert clip_categories(np.array([[3, 3, 3], [0, 1, 1]]), 3).tolist() == [-1, 1]
    ae, bg = split_ae_bg(ids, 3)
    assert ae.tolist() == [0] and bg.tolist() == [1]

"""PackedClipDataset reading: windows, gathers, repeats, epoch batches, copy-on-write."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from avel_annotate.model.packed import PackedClipDataset, PackedWriter

N = 23


@pytest.fixture
def packed(tmp_path: Path) -> tuple[PackedClipDataset, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    visual = rng.normal(size=(N, 10, 7, 7, 512)).astype(np.float16)
    audio = rng.normal(size=(N, 10, 128)).astype(np.float16)
    labels = rng.integers(0, 4, size=(N, 10))
    writer = PackedWriter(tmp_path / "c", N)
    for v, a in zip(visual, audio, strict=True):
        writer.append(v, a)
    writer.close(labels, 3, [f"c{i}" for i in range(N)], "x")
    return PackedClipDataset(tmp_path / "c"), visual, audio


@pytest.mark.parametrize(
    "indices",
    [[4, 5, 6, 7], [0], [N - 1], [9, 2, 15, 3], [5, 5, 6], list(range(N)), [22, 0, 1]],
)
def test_read_batch_returns_the_rows_asked(packed, indices) -> None:
    data, visual, audio = packed
    batch = data.read_batch(indices)
    assert sorted(indices) == batch.index.tolist()
    assert np.array_equal(batch.visual.numpy(), visual[batch.index.numpy()])
    assert np.array_equal(batch.audio.numpy(), audio[batch.index.numpy()])
    assert np.array_equal(batch.segment_labels.numpy(), data.labels()[batch.index.numpy()])


def test_out_of_range_is_refused(packed) -> None:
    with pytest.raises(IndexError):
        packed[0].read_batch([N])


def test_writing_a_delivered_batch_never_reaches_the_file(packed, tmp_path: Path) -> None:
    data, visual, _ = packed
    batch = data.read_batch([2, 3, 4])  # one window: a memory map, not a copy
    batch.visual.add_(1.0)
    fresh = PackedClipDataset(tmp_path / "c")
    assert np.array_equal(fresh.read_batch([2, 3, 4]).visual.numpy(), visual[2:5])
    on_disk = np.load(tmp_path / "c" / "visual.npy", mmap_mode="r")
    assert np.array_equal(on_disk[2:5], visual[2:5])


@pytest.mark.parametrize("positions", [np.arange(N), np.arange(5, 17)])
def test_epoch_batches_cover_each_position_once_in_runs(packed, positions) -> None:
    data = packed[0]
    orders = []
    for epoch in range(3):
        batches = data.epoch_batches(positions, 4, seed=(0, 0, epoch))
        flat = np.concatenate(batches)
        assert sorted(flat.tolist()) == sorted(positions.tolist())
        assert all(len(b) <= 4 for b in batches)
        # each batch is at most two runs of consecutive positions (one wraps around the end)
        assert all(int((np.diff(b) != 1).sum()) <= 1 for b in batches)
        orders.append([b.tolist() for b in batches])
        again = data.epoch_batches(positions, 4, seed=(0, 0, epoch))
        assert [b.tolist() for b in again] == orders[-1]  # seeded
    assert orders[0] != orders[1] != orders[2]  # a new shuffle per epoch


def test_pickled_dataset_reopens_its_files(packed) -> None:
    import pickle

    data, visual, _ = packed
    data.read_batch([0])
    clone = pickle.loads(pickle.dumps(data))
    assert torch.equal(clone.read_batch([1]).visual, torch.from_numpy(visual[1:2]))


def test_rows_buffered_into_large_writes_land_in_order(tmp_path: Path, monkeypatch) -> None:
    """The writer batches rows into few large writes (page-cache folios, see WRITE_CHUNK_BYTES);
    with a chunk of 3 rows and 10 rows (a partial last chunk) every row lands where it should."""
    from avel_annotate.model import packed as P

    monkeypatch.setattr(P, "WRITE_CHUNK_BYTES", 3 * 10 * 7 * 7 * 512 * 2)
    rng = np.random.default_rng(5)
    visual = rng.normal(size=(10, 10, 7, 7, 512)).astype(np.float16)
    audio = rng.normal(size=(10, 10, 128)).astype(np.float16)
    writer = PackedWriter(tmp_path / "c", 10)
    sizes: list[int] = []
    real_write = writer._files["visual"].write
    writer._files["visual"].write = lambda b: sizes.append(len(b)) or real_write(b)  # type: ignore[method-assign]
    for v, a in zip(visual, audio, strict=True):
        writer.append(v, a)
    writer.close(np.zeros((10, 10), np.int64), 3, [f"c{i}" for i in range(10)], "x")
    row = visual[0].nbytes
    assert sizes == [3 * row, 3 * row, 3 * row, row]
    assert np.array_equal(np.load(tmp_path / "c" / "visual.npy"), visual)
    assert np.array_equal(np.load(tmp_path / "c" / "audio.npy"), audio)

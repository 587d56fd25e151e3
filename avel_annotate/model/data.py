"""Clip datasets for training and evaluation; features stream from disk, labels live in RAM.

The data interface is a small protocol, ``ClipDataset``: a ``torch.utils.data.Dataset`` whose
item is one ``ClipExample`` (audio ``[T, 128]``, visual ``[T, 7, 7, 512]``, segment labels
``[T]`` int64 with C = background, category int, -1 if the clip has no event) plus two batch
helpers the training loop uses: ``labels()`` (all segment labels, ``[N, T]``, cheap) and
``read_batch(indices)`` (one read for many clips). ``AveH5Dataset`` reads the authors' released
AVE layout; the toolkit's own per-clip feature files can plug in by implementing the same three
methods.

Memory: only the rows of the current (and one prefetched) batch are ever in RAM; a batch of 128
float64 AVE clips is 257 MB for the visual features.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import h5py
import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor
from torch.utils.data import Dataset

from avel_annotate.domain.metrics import all_event_clips
from avel_annotate.errors import ModelError

logger = logging.getLogger(__name__)

AVE_FILES = {
    "audio": "audio_feature.h5",
    "visual": "visual_feature.h5",
    "labels": "labels.h5",
}
# the PSP/CPSP data folders name the labels file right_labels.h5; either is accepted
LABEL_FILES = ("labels.h5", "right_labels.h5")
AVE_KEY = "avadataset"  # features and labels
ORDER_KEY = "order"  # the release's {split}_order.h5
ORDER_KEYS = (ORDER_KEY, AVE_KEY)  # avadataset: older copies of this toolkit's own exports
AVE_TAILS = {"audio": (10, 128), "visual": (10, 7, 7, 512)}
SPLITS = ("train", "val", "test")

Indices = Sequence[int] | NDArray[np.int64]


@dataclass
class ClipExample:
    audio: Tensor  # [T, 128] float32
    visual: Tensor  # [T, 7, 7, 512] float32
    segment_labels: Tensor  # [T] int64, C = background
    category: int  # clip's event category, -1 if none


@dataclass
class ClipBatch:
    audio: Tensor  # [B, T, 128]
    visual: Tensor  # [B, T, 7, 7, 512]
    segment_labels: Tensor  # [B, T] int64
    category: Tensor  # [B] int64
    index: Tensor  # [B] dataset positions of the rows, in the order returned


@runtime_checkable
class ClipDataset(Protocol):
    n_categories: int

    def __len__(self) -> int: ...

    def __getitem__(self, i: int) -> ClipExample: ...

    def labels(self) -> NDArray[np.int64]: ...

    def read_batch(self, indices: Indices) -> ClipBatch: ...


def clip_categories(labels: NDArray[np.int64], background: int) -> NDArray[np.int64]:
    """Per clip the most frequent event label, -1 when every segment is background."""
    out = np.full(len(labels), -1, dtype=np.int64)
    for i, row in enumerate(labels):
        events = row[row != background]
        if events.size:
            out[i] = int(np.bincount(events).argmax())
    return out


def split_ae_bg(labels: NDArray[np.int64], background: int) -> tuple[NDArray[np.int64], ...]:
    """Positions of D_ae clips (all segments events) and D_bg clips (the rest)."""
    ae = all_event_clips(labels, background)
    return np.flatnonzero(ae), np.flatnonzero(~ae)


class TensorClipDataset(Dataset[ClipExample]):
    """In-memory dataset (tests, small experiments)."""

    def __init__(self, audio: Tensor, visual: Tensor, segment_labels: Tensor, n_categories: int):
        self.audio, self.visual = audio.float(), visual.float()
        self.segment_labels = segment_labels.long()
        self.n_categories = n_categories
        self._category = clip_categories(self.segment_labels.numpy(), n_categories)

    def __len__(self) -> int:
        return len(self.audio)

    def __getitem__(self, i: int) -> ClipExample:
        return ClipExample(
            self.audio[i], self.visual[i], self.segment_labels[i], int(self._category[i])
        )

    def labels(self) -> NDArray[np.int64]:
        return self.segment_labels.numpy().astype(np.int64)

    def read_batch(self, indices: Indices) -> ClipBatch:
        idx = torch.as_tensor(np.asarray(indices, dtype=np.int64))
        return ClipBatch(
            self.audio[idx],
            self.visual[idx],
            self.segment_labels[idx],
            torch.as_tensor(self._category[idx.numpy()]),
            idx,
        )


class AveH5Dataset(Dataset[ClipExample]):
    """The authors' AVE release: ``audio_feature.h5`` ``[N,10,128]``, ``visual_feature.h5``
    ``[N,10,7,7,512]``, ``labels.h5`` one-hot ``[N,10,C+1]``, all under key ``avadataset``; a split
    is the row list in ``{split}_order.h5``. Row i is line i of Annotations.txt. Features of any
    float dtype are read lazily and returned as float32.
    """

    def __init__(self, root: str | Path, split: str | None = "train") -> None:
        self.root = Path(root)
        self._paths = {
            "audio": self.root / AVE_FILES["audio"],
            "visual": self.root / AVE_FILES["visual"],
            "labels": find_labels_file(self.root),
        }
        for path in self._paths.values():
            if not path.is_file():
                also = " (or right_labels.h5)" if path.name == LABEL_FILES[0] else ""
                raise ModelError(
                    f"AVE feature folder {self.root} has no {path.name}{also}",
                    hint="point at the folder holding audio_feature.h5, visual_feature.h5, "
                    "labels.h5 (or right_labels.h5) and the *_order.h5 files of the AVE release",
                )
        all_ids, n_classes = self._read_labels()
        n_rows = len(all_ids)
        self.n_categories = n_classes - 1
        for kind in ("audio", "visual"):
            path = self._paths[kind]
            with _open_h5(path) as f:
                shape = _dataset(f, path, AVE_KEY).shape
            tail = AVE_TAILS[kind]
            if tuple(shape[1:]) != tail:
                raise ModelError(
                    f"{path}: dataset {AVE_KEY!r} has shape {tuple(shape)}, expected "
                    f"[N, {', '.join(map(str, tail))}]",
                    hint=f"pass the AVE release's {AVE_FILES[kind]}",
                )
            if shape[0] != n_rows:
                raise ModelError(
                    f"{path}: dataset {AVE_KEY!r} has shape {tuple(shape)}, {shape[0]} rows, but "
                    f"{self._paths['labels'].name} has {n_rows}",
                    hint="the h5 files must come from the same release",
                )
        self.rows: NDArray[np.int64]
        if split is None:
            self.rows = np.arange(n_rows, dtype=np.int64)
        else:
            self.rows = self._read_order(split, n_rows)
        self.split = split
        self._labels = all_ids[self.rows]
        self._category = clip_categories(self._labels, self.n_categories)
        self._files: dict[str, Any] = {}

    def _read_labels(self) -> tuple[NDArray[np.int64], int]:
        """Segment ids of every row, converted in chunks (100k x 10 x 142 one-hot is large)."""
        path = self._paths["labels"]
        with _open_h5(path) as f:
            ds = _dataset(f, path, AVE_KEY)
            if ds.ndim != 3 or ds.shape[1] != 10 or ds.shape[2] < 2:
                raise ModelError(
                    f"{path}: dataset {AVE_KEY!r} has shape {tuple(ds.shape)}, expected one-hot "
                    "[N, 10, C+1]",
                    hint="use the fully supervised labels of the release",
                )
            chunk = 4096
            ids = [labels_onehot_to_ids(ds[i : i + chunk]) for i in range(0, ds.shape[0], chunk)]
            empty = np.zeros((0, ds.shape[1]), dtype=np.int64)
            return (np.concatenate(ids) if ids else empty), int(ds.shape[2])

    def _read_order(self, split: str, n_rows: int) -> NDArray[np.int64]:
        path = self.root / f"{split}_order.h5"
        if not path.is_file():
            raise ModelError(f"split file {path} does not exist", hint=f"splits are {SPLITS}")
        rows = read_order_file(path)
        if rows.size and (rows.min() < 0 or rows.max() >= n_rows):
            raise ModelError(
                f"{path}: dataset {order_key(path)!r} names rows {int(rows.min())}.."
                f"{int(rows.max())}, outside 0..{n_rows - 1} of "
                f"{self._paths['labels'].name}",
                hint="order file of another release?",
            )
        return rows

    def _file(self, kind: str) -> Any:
        if kind not in self._files:  # opened lazily: h5py handles do not survive pickling
            self._files[kind] = h5py.File(self._paths[kind], "r")[AVE_KEY]
        return self._files[kind]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_files"] = {}
        return state

    def close(self) -> None:
        for ds in self._files.values():
            ds.file.close()
        self._files = {}

    def __len__(self) -> int:
        return len(self.rows)

    def labels(self) -> NDArray[np.int64]:
        return self._labels

    def __getitem__(self, i: int) -> ClipExample:
        batch = self.read_batch([i])
        return ClipExample(
            batch.audio[0], batch.visual[0], batch.segment_labels[0], int(batch.category[0])
        )

    def read_batch(self, indices: Indices) -> ClipBatch:
        """Read clips at dataset positions ``indices``; h5 rows are read in ascending order."""
        pos = np.asarray(indices, dtype=np.int64)
        rows = self.rows[pos]
        order = np.argsort(rows, kind="stable")
        pos, rows = pos[order], rows[order]
        unique_rows, inverse = np.unique(rows, return_inverse=True)
        audio = np.asarray(self._file("audio")[unique_rows], dtype=np.float32)
        visual = np.asarray(self._file("visual")[unique_rows], dtype=np.float32)
        if len(unique_rows) != len(rows):  # repeated rows (copy only then: visual is big)
            audio, visual = audio[inverse], visual[inverse]
        return ClipBatch(
            torch.from_numpy(audio),
            torch.from_numpy(visual),
            torch.from_numpy(self._labels[pos]),
            torch.from_numpy(self._category[pos]),
            torch.from_numpy(pos),
        )


def find_labels_file(root: Path) -> Path:
    """``labels.h5``, else ``right_labels.h5`` (the PSP/CPSP folders' name); the first when
    neither exists, so the caller's message names the usual file."""
    for name in LABEL_FILES:
        if (root / name).is_file():
            return root / name
    return root / LABEL_FILES[0]


def _open_h5(path: Path) -> Any:
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise ModelError(f"{path}: not a readable HDF5 file ({e})", hint="file damaged?") from e


def _dataset(f: Any, path: Path, key: str) -> Any:
    if key not in f:
        raise ModelError(
            f"{path}: no dataset {key!r} (keys {sorted(f.keys())[:5]})",
            hint="the AVE release keeps features and labels under 'avadataset'",
        )
    return f[key]


def order_key(path: Path) -> str:
    """The key the rows of an order file are under: ``order`` (the release), else
    ``avadataset`` (older copies of this toolkit's exports)."""
    with _open_h5(path) as f:
        for key in ORDER_KEYS:
            if key in f:
                return key
        raise ModelError(
            f"{path}: no dataset 'order' (keys {sorted(f.keys())[:5]})",
            hint="an AVE order file holds its row indices under 'order'",
        )


def read_order_file(path: str | Path) -> NDArray[np.int64]:
    """Row indices of an AVE ``{split}_order.h5``: a 1-D integer dataset ``order`` (or
    ``avadataset``); anything else is a one-line error naming file, key and shape."""
    path = Path(path)
    key = order_key(path)
    with _open_h5(path) as f:
        ds = f[key]
        shape = tuple(ds.shape)
        if len(shape) != 1 and not (len(shape) == 2 and 1 in shape):
            raise ModelError(
                f"{path}: dataset {key!r} has shape {shape}, expected [N] row indices",
                hint="an order file is a list of rows of Annotations.txt",
            )
        if ds.dtype.kind not in "iu":
            raise ModelError(
                f"{path}: dataset {key!r} has dtype {ds.dtype}, shape {shape}, expected integers",
                hint="an order file is a list of row indices",
            )
        rows = np.asarray(ds[()], dtype=np.int64).ravel()
    if len(np.unique(rows)) != len(rows):
        raise ModelError(
            f"{path}: dataset {key!r} (shape {shape}) repeats a row",
            hint="each row of a split is listed once",
        )
    return rows


def labels_onehot_to_ids(onehot: NDArray[Any]) -> NDArray[np.int64]:
    """One-hot ``[N, T, C+1]`` -> ids ``[N, T]``; an all-zero row counts as background (C)."""
    ids = np.asarray(onehot).argmax(axis=-1).astype(np.int64)
    ids[np.asarray(onehot).sum(axis=-1) <= 0] = onehot.shape[-1] - 1
    return ids


def batch_indices(
    positions: Sequence[int] | NDArray[np.int64],
    batch_size: int,
    *,
    shuffle: bool,
    seed: Sequence[int] | int = 0,
) -> list[NDArray[np.int64]]:
    """Split positions into batches (shuffled with a numpy generator seeded by ``seed``); each
    batch is sorted so h5 reads go forward through the file."""
    pos = np.asarray(positions, dtype=np.int64)
    if shuffle:
        pos = np.random.default_rng(seed).permutation(pos)
    return [np.sort(pos[i : i + batch_size]) for i in range(0, len(pos), batch_size)]


def iter_batches(
    dataset: ClipDataset, batches: Sequence[NDArray[np.int64]], prefetch: bool = True
) -> Iterator[ClipBatch]:
    """Yield ``dataset.read_batch`` for each index batch, reading the next one in a thread."""
    if not prefetch or len(batches) < 2:
        for b in batches:
            yield dataset.read_batch(b)
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending: Future[ClipBatch] = pool.submit(dataset.read_batch, batches[0])
        for nxt in batches[1:]:
            current = pending.result()
            pending = pool.submit(dataset.read_batch, nxt)
            yield current
        yield pending.result()

"""A dataset over one feature file per clip, read lazily a batch at a time.

The service side joins the store's labelled clips to their feature files and hands over plain
data (clip ids, paths, the label table) and a reader for one file; this module wraps them as a
``ClipDataset`` for training and evaluation. Memory stays flat whatever the dataset size. The
reader is injected because ``model/`` never imports ``features/`` (adapters stay independent).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch.utils.data import Dataset

from avel_annotate.model.data import ClipBatch, ClipExample, Indices

# one clip's features from its file: (audio [10, 128], visual [10, 7, 7, 512]), any float dtype
FeatureReader = Callable[[Path], tuple[NDArray[Any], NDArray[Any]]]


class FeatureFileDataset(Dataset[ClipExample]):
    """Clips with labels, features read from their files on demand by ``read``."""

    def __init__(
        self,
        clip_ids: Sequence[str],
        paths: Sequence[Path],
        labels: NDArray[np.int64],
        category: NDArray[np.int64],
        n_categories: int,
        read: FeatureReader,
    ) -> None:
        self.n_categories = n_categories
        self.clip_ids = list(clip_ids)
        self.paths = list(paths)
        self._labels = np.asarray(labels, dtype=np.int64).reshape(-1, 10)
        self._category = np.asarray(category, dtype=np.int64)
        self._read_file = read

    def __len__(self) -> int:
        return len(self.paths)

    def labels(self) -> NDArray[np.int64]:
        return self._labels

    def clip_category(self) -> NDArray[np.int64]:
        """Per clip its category index, -1 for a clip without events."""
        return self._category

    def _read(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        audio, visual = self._read_file(self.paths[i])
        return (
            torch.from_numpy(audio.astype(np.float32)),
            torch.from_numpy(visual.astype(np.float32)),
        )

    def __getitem__(self, i: int) -> ClipExample:
        audio, visual = self._read(i)
        return ClipExample(audio, visual, torch.from_numpy(self._labels[i]), int(self._category[i]))

    def read_batch(self, indices: Indices) -> ClipBatch:
        idx = np.asarray(indices, dtype=np.int64)
        pairs = [self._read(int(i)) for i in idx]
        audio = torch.stack([a for a, _ in pairs]) if pairs else torch.zeros(0, 10, 128)
        visual = torch.stack([v for _, v in pairs]) if pairs else torch.zeros(0, 10, 7, 7, 512)
        return ClipBatch(
            audio,
            visual,
            torch.from_numpy(self._labels[idx]),
            torch.from_numpy(self._category[idx]),
            torch.from_numpy(idx),
        )

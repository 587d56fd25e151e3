"""Training data from the store: labelled clips joined to their per-clip feature files.

The model package reads data through its small ``ClipDataset`` protocol; this module provides
one over the toolkit's own float16 feature files, read lazily a batch at a time so memory stays
flat whatever the dataset size.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from torch.utils.data import Dataset

from avel_annotate.errors import FeatureError, ModelError
from avel_annotate.features.store_files import read_features
from avel_annotate.model.data import ClipBatch, ClipExample, Indices
from avel_annotate.store.models import LabelledFeatures

log = logging.getLogger(__name__)


def segment_label_ids(segments: str, category_index: int | None, background: int) -> list[int]:
    """Ten class ids: the clip's category where the bit is set, background elsewhere."""
    if category_index is None:
        return [background] * len(segments)
    return [category_index if bit == "1" else background for bit in segments]


class FeatureFileDataset(Dataset[ClipExample]):
    """Clips of the store with labels, features read from their ``.npz`` files on demand."""

    def __init__(
        self,
        items: Sequence[LabelledFeatures],
        data_dir: Path,
        categories: Sequence[str],
        *,
        allow_random: bool = False,
    ) -> None:
        self.n_categories = len(categories)
        index = {name: i for i, name in enumerate(categories)}
        self.clip_ids: list[str] = []
        self.paths: list[Path] = []
        rows: list[list[int]] = []
        cats: list[int] = []
        for item in items:
            if item.is_random and not allow_random:
                raise FeatureError(
                    f"clip {item.clip_id}: features at {item.feature_path} were made with random "
                    "weights",
                    hint="extract with real weights, or pass --allow-random-features for a demo",
                )
            if item.category is not None and item.category not in index:
                raise ModelError(
                    f"clip {item.clip_id}: category {item.category!r} is not one of the model's "
                    f"{self.n_categories} categories",
                    hint="train a new model on the store's category table",
                )
            cat = index.get(item.category) if item.category is not None else None
            if cat is None and "1" in item.segments:
                log.warning("clip %s has events but no category; skipped", item.clip_id)
                continue
            self.clip_ids.append(item.clip_id)
            self.paths.append(data_dir / item.feature_path)
            rows.append(segment_label_ids(item.segments, cat, self.n_categories))
            cats.append(cat if cat is not None and "1" in item.segments else -1)
        self._labels = np.asarray(rows, dtype=np.int64).reshape(-1, 10)
        self._category = np.asarray(cats, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.paths)

    def labels(self) -> NDArray[np.int64]:
        return self._labels

    def clip_category(self) -> NDArray[np.int64]:
        """Per clip its category index, -1 for a clip without events."""
        return self._category

    def _read(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        features = read_features(self.paths[i])
        return (
            torch.from_numpy(features.audio.astype(np.float32)),
            torch.from_numpy(features.visual.astype(np.float32)),
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

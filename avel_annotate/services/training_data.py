"""Training data from the store: labelled clips joined to their per-clip feature files.

The model package reads data through its small ``ClipDataset`` protocol; this module checks the
store's rows (random-weight features, unknown categories, events without a category) and builds
the label table, then hands plain data and a feature-file reader to ``model.feature_files``. No
torch here: the dataset class lives in the model package.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from avel_annotate.errors import FeatureError, ModelError
from avel_annotate.features.store_files import read_features
from avel_annotate.model.feature_files import FeatureFileDataset as FeatureFileDataset
from avel_annotate.store.models import LabelledFeatures

log = logging.getLogger(__name__)


def segment_label_ids(segments: str, category_index: int | None, background: int) -> list[int]:
    """Ten class ids: the clip's category where the bit is set, background elsewhere."""
    if category_index is None:
        return [background] * len(segments)
    return [category_index if bit == "1" else background for bit in segments]


def read_feature_arrays(path: Path) -> tuple[NDArray[Any], NDArray[Any]]:
    """One clip's (audio, visual) features from its file (the reader the dataset is given)."""
    features = read_features(path)
    return features.audio, features.visual


def _checked_category(item: LabelledFeatures, index: dict[str, int], allow_random: bool) -> int:
    """The item's category index (-1: none); raises for random features or an unknown name."""
    if item.is_random and not allow_random:
        raise FeatureError(
            f"clip {item.clip_id}: features at {item.feature_path} were made with random weights",
            hint="extract with real weights, or pass --allow-random-features for a demo",
        )
    if item.category is None:
        return -1
    if item.category not in index:
        raise ModelError(
            f"clip {item.clip_id}: category {item.category!r} is not one of the model's "
            f"{len(index)} categories",
            hint="train a new model on the store's category table",
        )
    return index[item.category]


def feature_file_dataset(
    items: Sequence[LabelledFeatures],
    data_dir: Path,
    categories: Sequence[str],
    *,
    allow_random: bool = False,
) -> FeatureFileDataset:
    """The labelled clips ``items`` as a dataset over their feature files under ``data_dir``;
    class indices follow ``categories``. A clip with events but no category is skipped."""
    n = len(categories)
    index = {name: i for i, name in enumerate(categories)}
    clip_ids: list[str] = []
    paths: list[Path] = []
    rows: list[list[int]] = []
    cats: list[int] = []
    for item in items:
        cat = _checked_category(item, index, allow_random)
        has_events = "1" in item.segments
        if cat < 0 and has_events:
            log.warning("clip %s has events but no category; skipped", item.clip_id)
            continue
        clip_ids.append(item.clip_id)
        paths.append(data_dir / item.feature_path)
        rows.append(segment_label_ids(item.segments, cat if cat >= 0 else None, n))
        cats.append(cat if cat >= 0 and has_events else -1)
    labels = np.asarray(rows, dtype=np.int64).reshape(-1, 10)
    category = np.asarray(cats, dtype=np.int64)
    return FeatureFileDataset(clip_ids, paths, labels, category, n, read_feature_arrays)

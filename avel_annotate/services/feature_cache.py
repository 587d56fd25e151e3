"""The packed feature cache of a training set: built once, reused until its inputs change.

One cache per (split, feature kind, label source) lives next to the features, in
``<features_dir>/<kind>/_packed/<split>-<labels>/`` (``model.packed`` describes the files).
Its manifest records a SHA-256 over everything the cache is made of: per clip the id, the
feature file's path, size, mtime and inode, its ten segment labels and category, and the
category count. Opening it again with the same inputs reuses it; any change (a re-extracted
feature file, an adjudicated label, a clip more or less) rebuilds it. A build writes a
temporary folder next to the cache and renames it into place, so a reader never sees a half
cache; the old cache is removed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np

from avel_annotate.features.store_files import read_features
from avel_annotate.model.data import split_ae_bg
from avel_annotate.model.packed import PackedClipDataset, PackedWriter, read_manifest
from avel_annotate.services.progress import ProgressBar
from avel_annotate.services.training_data import FeatureFileDataset

log = logging.getLogger(__name__)

CACHE_DIR = "_packed"  # never a clip folder: those are named by two characters
ORDER_SEED = 0


def cache_folder(features_dir: Path, kind: str, split: str, labels: str) -> Path:
    return features_dir / kind / CACHE_DIR / f"{split}-{labels}"


def inputs_sha256(source: FeatureFileDataset) -> str:
    """Hash of the cache's inputs (stat of every feature file, labels, categories)."""
    h = hashlib.sha256()
    h.update(json.dumps({"n_categories": source.n_categories, "n": len(source)}).encode())
    labels, category = source.labels(), source.clip_category()
    for i, (clip_id, path) in enumerate(zip(source.clip_ids, source.paths, strict=True)):
        try:
            st = os.stat(path)
            stat = [st.st_size, st.st_mtime_ns, st.st_ino]
        except OSError:
            stat = [-1, -1, -1]  # the build will name the missing file
        row = [clip_id, str(path), *stat, *labels[i].tolist(), int(category[i])]
        h.update(json.dumps(row).encode())
        h.update(b"\n")
    return h.hexdigest()


def cache_order(source: FeatureFileDataset) -> np.ndarray:
    """Row order of the cache: all-event clips first, then the rest, each shuffled (seeded)."""
    ae, bg = split_ae_bg(source.labels(), source.n_categories)
    rng = np.random.default_rng(ORDER_SEED)
    return np.concatenate([rng.permutation(ae), rng.permutation(bg)]).astype(np.int64)


def packed_dataset(
    source: FeatureFileDataset, folder: Path, *, show_progress: bool = False
) -> tuple[PackedClipDataset, bool]:
    """The cache of ``source`` at ``folder``, (re)built when its inputs changed.

    Returns the dataset and whether it was built now.
    """
    digest = inputs_sha256(source)
    manifest = read_manifest(folder)
    if manifest is not None and manifest.get("inputs_sha256") == digest:
        return PackedClipDataset(folder), False
    log.info("building the packed feature cache %s (%d clips)", folder, len(source))
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    order = cache_order(source)
    writer = PackedWriter(tmp, len(order))
    try:
        with ProgressBar(show_progress, len(order), "packing features") as bar:
            for i in order:
                features = read_features(source.paths[int(i)])
                writer.append(features.visual, features.audio)
                bar.advance()
        writer.close(
            source.labels()[order],
            source.n_categories,
            [source.clip_ids[int(i)] for i in order],
            digest,
        )
        if folder.exists():
            old = folder.parent / f".{folder.name}.old-{os.getpid()}"
            os.replace(folder, old)
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    except BaseException:
        writer.abort()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return PackedClipDataset(folder), True

"""The packed feature cache against real per-clip feature files (``.npz`` written by the
feature writer): the same numbers, rebuilt when a label or a feature file changes, reused
otherwise, and what ``avel train`` reads."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from avel_annotate.features.provenance import Provenance
from avel_annotate.features.store_files import feature_path, read_features, write_features
from avel_annotate.model.data import iter_batches, split_ae_bg
from avel_annotate.model.packed import PackedClipDataset
from avel_annotate.services.feature_cache import cache_folder, packed_dataset
from avel_annotate.services.training_data import FeatureFileDataset, feature_file_dataset
from avel_annotate.store.models import LabelledFeatures

CATS = ["Church bell", "Dog", "Flute"]
N = 37  # not a multiple of any batch size used below


def _provenance() -> Provenance:
    return Provenance(
        extractor="synthetic", visual_model="none", visual_weights="random", audio_model="none",
        audio_weights="random", random=True, preprocessing="none", decoder="none",
        dtype="float32", frames_per_second=16,
    )  # fmt: skip


def _write_clip(data_dir: Path, clip_id: str, rng: np.random.Generator) -> str:
    visual = rng.normal(size=(10, 7, 7, 512)).astype(np.float32)
    audio = rng.normal(size=(10, 128)).astype(np.float32)
    path = feature_path(data_dir / "features", "synthetic", clip_id)
    write_features(path, visual, audio, _provenance())
    return str(path.relative_to(data_dir))


@pytest.fixture
def items(tmp_path: Path) -> list[LabelledFeatures]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(N):
        clip_id = f"vid{i:08d}_000000"
        segments = "".join("1" if rng.random() < 0.6 else "0" for _ in range(10))
        if i % 4 == 0:
            segments = "1" * 10  # some all-event clips (D_ae)
        if i % 9 == 0:
            segments = "0" * 10
        category = None if segments == "0" * 10 else CATS[i % 3]
        path = _write_clip(tmp_path, clip_id, rng)
        out.append(LabelledFeatures(clip_id, path, True, segments, category, "list"))
    return out


def _source(items: list[LabelledFeatures], data_dir: Path) -> FeatureFileDataset:
    return feature_file_dataset(items, data_dir, CATS, allow_random=True)


def _folder(data_dir: Path) -> Path:
    return cache_folder(data_dir / "features", "synthetic", "train", "list")


def test_cache_equals_the_per_clip_files_exactly(items, tmp_path: Path) -> None:
    source = _source(items, tmp_path)
    cache, built = packed_dataset(source, _folder(tmp_path))
    assert built and len(cache) == N and cache.n_categories == 3
    row_of = {cid: i for i, cid in enumerate(source.clip_ids)}
    seen = set()
    for batch in iter_batches(cache, cache.epoch_batches(np.arange(N), 8, seed=(0, 0, 1))):
        assert batch.visual.dtype == torch.float16
        for k, pos in enumerate(batch.index.tolist()):
            clip_id = cache.clip_ids[pos]
            seen.add(clip_id)
            i = row_of[clip_id]
            npz = read_features(source.paths[i])
            assert np.array_equal(batch.visual[k].numpy(), npz.visual)  # bit for bit
            assert np.array_equal(batch.audio[k].numpy(), npz.audio)
            assert batch.segment_labels[k].tolist() == source.labels()[i].tolist()
            assert int(batch.category[k]) == int(source.clip_category()[i])
    assert seen == set(source.clip_ids)
    # the float32 the per-clip dataset hands out is the cache's float16, cast
    ref = source.read_batch([row_of[cache.clip_ids[5]], row_of[cache.clip_ids[6]]])
    got = cache.read_batch([5, 6])
    assert torch.equal(got.visual.float(), ref.visual)
    assert torch.equal(got.audio.float(), ref.audio)


def test_stage_subsets_are_contiguous_ranges(items, tmp_path: Path) -> None:
    cache, _ = packed_dataset(_source(items, tmp_path), _folder(tmp_path))
    ae, bg = split_ae_bg(cache.labels(), cache.n_categories)
    assert ae.size and bg.size
    assert ae.tolist() == list(range(len(ae))) and bg.tolist() == list(range(len(ae), N))


def test_reused_when_nothing_changed(items, tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    _, built = packed_dataset(_source(items, tmp_path), folder)
    st = (folder / "visual.npy").stat()
    again, built_again = packed_dataset(_source(items, tmp_path), folder)
    assert built and not built_again
    st2 = (folder / "visual.npy").stat()
    assert (st2.st_mtime_ns, st2.st_ino) == (st.st_mtime_ns, st.st_ino)
    assert len(again) == N


def test_rebuilt_when_a_label_changes(items, tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    first, _ = packed_dataset(_source(items, tmp_path), folder)
    i = next(k for k, it in enumerate(items) if it.category is not None and "0" in it.segments)
    flipped = items[i].segments.replace("0", "1", 1)
    changed = list(items)
    changed[i] = LabelledFeatures(items[i].clip_id, items[i].feature_path, True, flipped,
                                  items[i].category, "curated")  # fmt: skip
    cache, built = packed_dataset(_source(changed, tmp_path), folder)
    assert built
    row = cache.clip_ids.index(items[i].clip_id)
    assert "".join("0" if x == 3 else "1" for x in cache.labels()[row]) == flipped
    assert not any(p.name.startswith(".") for p in folder.parent.iterdir())  # no leftovers
    del first


def test_rebuilt_when_a_feature_file_changes(items, tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    packed_dataset(_source(items, tmp_path), folder)
    rewritten = items[3]
    path = tmp_path / rewritten.feature_path
    _write_clip(tmp_path, rewritten.clip_id, np.random.default_rng(99))  # re-extracted
    cache, built = packed_dataset(_source(items, tmp_path), folder)
    assert built
    row = cache.clip_ids.index(rewritten.clip_id)
    assert np.array_equal(cache.read_batch([row]).visual[0].numpy(), read_features(path).visual)


def test_a_clip_more_rebuilds_and_a_torn_cache_is_refused(items, tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    packed_dataset(_source(items[:-1], tmp_path), folder)
    cache, built = packed_dataset(_source(items, tmp_path), folder)
    assert built and len(cache) == N
    os.remove(folder / "manifest.json")  # as if a build had died before its manifest
    with pytest.raises(Exception, match="not a complete packed feature cache"):
        PackedClipDataset(folder)
    _, built = packed_dataset(_source(items, tmp_path), folder)
    assert built

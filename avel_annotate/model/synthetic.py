"""Seeded synthetic data in the authors' AVE h5 layout, learnable only from both modalities.

Each category c has an audio pattern (128-d) and a visual pattern (512-d, placed on a few of the
49 regions). Every second of a clip of category c is one of: audio-visual event (both patterns),
audio only, visual only, or neither, over Gaussian noise. Only the audio-visual seconds are
labelled c; the other seconds are background. So a model must see that the two patterns
co-occur: audio alone or vision alone cannot tell an event second from an audio-only or a
visual-only background second. About a third of the clips are all-event (D_ae), as in AVE.

Writing is chunked, so a dataset larger than RAM can be generated (benchmarks use that); each
file is written atomically (``fileio``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from numpy.typing import NDArray

from avel_annotate import fileio
from avel_annotate.model.data import AVE_FILES, AVE_KEY, ORDER_KEY

# per-second state of a clip with background: 0 event, 1 audio only, 2 visual only, 3 neither
_STATE_P = (0.4, 0.2, 0.2, 0.2)


@dataclass(frozen=True)
class SyntheticSpec:
    n_train: int = 240
    n_val: int = 60
    n_test: int = 60
    n_categories: int = 4
    seed: int = 0
    dtype: str = "float16"  # the authors' release is float64; float16 keeps tests small
    p_all_event: float = 0.35
    noise: float = 1.0
    audio_strength: float = 1.0
    visual_strength: float = 1.5
    n_pattern_regions: int = 6
    n_segments: int = 10

    @property
    def n_clips(self) -> int:
        return self.n_train + self.n_val + self.n_test


def _clip_states(rng: np.random.Generator, spec: SyntheticSpec) -> NDArray[np.int64]:
    t = spec.n_segments
    if rng.random() < spec.p_all_event:
        return np.zeros(t, dtype=np.int64)
    states = rng.choice(4, size=t, p=_STATE_P)
    if not (states == 0).any():
        states[rng.integers(t)] = 0
    if (states == 0).all():
        states[rng.integers(t)] = 1 + rng.integers(3)
    return states.astype(np.int64)


def write_synthetic_ave(root: str | Path, spec: SyntheticSpec | None = None) -> Path:
    """Write ``audio_feature.h5``, ``visual_feature.h5``, ``labels.h5`` (key ``avadataset``) and
    the three order files (key ``order``, as the release) under ``root``; returns ``root``.
    Same spec, same bytes."""
    spec = spec or SyntheticSpec()
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec.seed)
    c, t, n = spec.n_categories, spec.n_segments, spec.n_clips
    audio_pat = rng.normal(size=(c, 128)) * spec.audio_strength
    visual_pat = np.abs(rng.normal(size=(c, 512))) * spec.visual_strength
    dtype = np.dtype(spec.dtype)
    chunk = 64
    with (
        fileio.atomic_path(root / AVE_FILES["audio"], suffix=".h5") as tmp_a,
        fileio.atomic_path(root / AVE_FILES["visual"], suffix=".h5") as tmp_v,
        fileio.atomic_path(root / AVE_FILES["labels"], suffix=".h5") as tmp_l,
        h5py.File(tmp_a, "w") as fa,
        h5py.File(tmp_v, "w") as fv,
        h5py.File(tmp_l, "w") as fl,
    ):
        da = fa.create_dataset(AVE_KEY, (n, t, 128), dtype=dtype, chunks=(1, t, 128))
        dv = fv.create_dataset(AVE_KEY, (n, t, 7, 7, 512), dtype=dtype, chunks=(1, t, 7, 7, 512))
        dl = fl.create_dataset(AVE_KEY, (n, t, c + 1), dtype=np.float64)
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            audio = rng.normal(scale=spec.noise, size=(m, t, 128))
            visual = np.abs(rng.normal(scale=spec.noise, size=(m, t, 49, 512)))
            labels = np.zeros((m, t, c + 1))
            for i in range(m):
                cat = int(rng.integers(c))
                states = _clip_states(rng, spec)
                for s, state in enumerate(states):
                    if state in (0, 1):
                        audio[i, s] += audio_pat[cat]
                    if state in (0, 2):
                        regions = rng.choice(49, size=spec.n_pattern_regions, replace=False)
                        visual[i, s, regions] += visual_pat[cat]
                    labels[i, s, cat if state == 0 else c] = 1.0
            da[start : start + m] = audio.astype(dtype)
            dv[start : start + m] = visual.reshape(m, t, 7, 7, 512).astype(dtype)
            dl[start : start + m] = labels
    bounds = {
        "train": (0, spec.n_train),
        "val": (spec.n_train, spec.n_train + spec.n_val),
        "test": (spec.n_train + spec.n_val, n),
    }
    for split, (lo, hi) in bounds.items():
        with (
            fileio.atomic_path(root / f"{split}_order.h5", suffix=".h5") as tmp,
            h5py.File(tmp, "w") as fo,
        ):
            fo.create_dataset(ORDER_KEY, data=np.arange(lo, hi, dtype=np.int64))
    return root

"""Convert between the AVE authors' h5 feature files and this toolkit's per-clip feature files.

The released AVE layout: ``visual_feature.h5`` holds dataset ``avadataset`` of shape
``[N, 10, 7, 7, 512]`` and ``audio_feature.h5`` holds ``avadataset`` ``[N, 10, 128]``, both
float64, row ``i`` = line ``i`` of ``Annotations.txt`` (the caller maps rows to clip ids). Import
reads row by row (the visual file is 7.7 GB) and stores float16 files with a provenance that
says where they came from; export writes float64 rows in the given order, so features made here
can feed the authors' training code.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from avel_annotate import fileio
from avel_annotate.errors import FeatureError
from avel_annotate.features.provenance import Provenance
from avel_annotate.features.store_files import (
    AUDIO_SHAPE,
    VISUAL_SHAPE,
    feature_path,
    read_features,
    write_features,
)

logger = logging.getLogger(__name__)

DATASET_KEY = "avadataset"
AVE_EXTRACTOR = "ave-released"


def ave_released_provenance(
    row: int, source: str = "visual_feature.h5/audio_feature.h5", extractor: str = AVE_EXTRACTOR
) -> Provenance:
    """Provenance of one imported row of the authors' released features."""
    return Provenance(
        extractor=extractor,
        visual_model="vgg19",
        visual_weights="ave-released (Caffe VGG-19 pool5, Keras caffe preprocessing)",
        audio_model="vggish",
        audio_weights="ave-released (AudioSet VGGish)",
        random=False,
        preprocessing="caffe",
        decoder="unknown",
        dtype="float64-source",
        frames_per_second=16,
        notes=f"imported from {source} row {row}",
    )


def _open_dataset(h5: Any, path: Path, tail: tuple[int, ...]) -> Any:
    if DATASET_KEY not in h5:
        raise FeatureError(
            f"{path}: no dataset {DATASET_KEY!r} (keys {list(h5.keys())[:5]})",
            hint="pass the AVE release's visual_feature.h5 / audio_feature.h5",
        )
    data = h5[DATASET_KEY]
    if tuple(data.shape[1:]) != tail:
        raise FeatureError(
            f"{path}: {DATASET_KEY} has shape {data.shape}, expected [N, *{list(tail)}]"
        )
    return data


def import_ave_h5(
    visual_h5: str | Path,
    audio_h5: str | Path,
    clip_ids: Sequence[str],
    features_dir: str | Path,
    *,
    extractor: str = AVE_EXTRACTOR,
    overwrite: bool = False,
) -> list[Path]:
    """Write one feature file per row; ``clip_ids[i]`` names row ``i``. Returns the paths.

    Existing files are kept unless ``overwrite`` (re-running an interrupted import resumes).
    """
    import h5py

    visual_h5, audio_h5 = Path(visual_h5), Path(audio_h5)
    try:
        with h5py.File(visual_h5, "r") as fv, h5py.File(audio_h5, "r") as fa:
            visual = _open_dataset(fv, visual_h5, VISUAL_SHAPE)
            audio = _open_dataset(fa, audio_h5, AUDIO_SHAPE)
            n_v, n_a = visual.shape[0], audio.shape[0]
            if not n_v == n_a == len(clip_ids):
                raise FeatureError(
                    f"{visual_h5} has {n_v} rows, {audio_h5} {n_a}, but {len(clip_ids)} clip ids",
                    hint="pass one clip id per line of Annotations.txt, in file order",
                )
            source = f"{visual_h5.name}/{audio_h5.name}"
            paths = []
            for row, clip_id in enumerate(clip_ids):
                path = feature_path(features_dir, extractor, clip_id)
                if overwrite or not path.exists():
                    v = np.asarray(visual[row])  # float64 -> float16 in one rounding
                    a = np.asarray(audio[row])
                    prov = ave_released_provenance(row, source, extractor)
                    write_features(path, v, a, prov)
                paths.append(path)
    except OSError as e:
        raise FeatureError(f"cannot read AVE h5 files ({e})", hint="check the paths") from e
    logger.info("imported %d AVE feature rows into %s/%s", len(paths), features_dir, extractor)
    return paths


def write_h5_array(path: Path, array: np.ndarray, key: str = DATASET_KEY) -> None:
    """One dataset per file, as the release: ``avadataset`` (features, labels) or ``order``;
    written atomically."""
    import h5py

    with fileio.atomic_path(path, suffix=".h5") as tmp, h5py.File(tmp, "w") as fh:
        fh.create_dataset(key, data=array)


def _copy_rows(feature_files: Sequence[str | Path], dv: Any, da: Any, allow_random: bool) -> None:
    """Our feature files, in order, into the two float64 datasets; one extractor, real
    weights (unless ``allow_random``)."""
    extractor = None
    for row, path in enumerate(feature_files):
        feats = read_features(path)
        prov = feats.provenance
        if prov.random and not allow_random:
            raise FeatureError(
                f"{path}: made with random weights; refusing to export",
                hint="extract with real weights (or pass allow_random for a smoke test)",
            )
        if extractor is None:
            extractor = prov.extractor
        elif prov.extractor != extractor:
            raise FeatureError(
                f"{path}: extractor {prov.extractor!r} differs from {extractor!r} "
                "in the same export",
                hint="export one feature space at a time",
            )
        dv[row] = feats.visual.astype(np.float64)
        da[row] = feats.audio.astype(np.float64)


def export_ave_h5(
    feature_files: Sequence[str | Path],
    visual_h5: str | Path,
    audio_h5: str | Path,
    *,
    allow_random: bool = False,
) -> int:
    """Write our feature files, in order, as the AVE float64 h5 pair; returns the row count.

    Refuses features made with random weights (they would silently train the authors' model on
    noise) unless ``allow_random``, and refuses mixing extractors. Both files are written to a
    temporary name and renamed into place (``fileio``); on any error neither is replaced.
    """
    import h5py

    if not feature_files:
        raise FeatureError("no feature files to export")
    visual_h5, audio_h5 = Path(visual_h5), Path(audio_h5)
    n = len(feature_files)
    with (
        fileio.atomic_path(visual_h5, suffix=".h5") as tmp_v,
        fileio.atomic_path(audio_h5, suffix=".h5") as tmp_a,
        h5py.File(tmp_v, "w") as fv,
        h5py.File(tmp_a, "w") as fa,
    ):
        dv = fv.create_dataset(
            DATASET_KEY, shape=(n, *VISUAL_SHAPE), dtype="f8", chunks=(1, *VISUAL_SHAPE)
        )
        da = fa.create_dataset(DATASET_KEY, shape=(n, *AUDIO_SHAPE), dtype="f8")
        _copy_rows(feature_files, dv, da, allow_random)
    logger.info("exported %d rows to %s and %s", n, visual_h5, audio_h5)
    return n

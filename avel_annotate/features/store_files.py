"""One clip's feature file: ``<features_dir>/<extractor>/<clip_id[:2]>/<clip_id>.npz``.

An uncompressed ``.npz`` holding ``visual`` float16 ``[10, 7, 7, 512]``, ``audio`` float16
``[10, 128]`` and ``provenance`` (a JSON string, see :class:`Provenance`), ~0.5 MB a clip. It is
written to a temporary name in the same folder and renamed into place, so a reader never sees a
half-written file; :func:`read_features` validates shapes and dtypes and names the file when not.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avel_annotate.errors import FeatureError, InvalidIdError
from avel_annotate.features.provenance import Provenance
from avel_annotate.fileio import atomic_open

N_SEGMENTS = 10
VISUAL_SHAPE = (N_SEGMENTS, 7, 7, 512)
AUDIO_SHAPE = (N_SEGMENTS, 128)
STORED_DTYPE = np.float16
SUFFIX = ".npz"


@dataclass(frozen=True)
class FeatureFile:
    visual: np.ndarray  # float16 [10, 7, 7, 512]
    audio: np.ndarray  # float16 [10, 128]
    provenance: Provenance


def _check_name(kind: str, name: str) -> None:
    if not name or name.startswith(".") or "/" in name or "\\" in name or "\x00" in name:
        raise InvalidIdError(f"{kind} {name!r} cannot be used in a file name")


def feature_path(features_dir: str | Path, extractor: str, clip_id: str) -> Path:
    """Where a clip's features for ``extractor`` live (the caller records it in the store)."""
    _check_name("extractor name", extractor)
    _check_name("clip id", clip_id)
    return Path(features_dir) / extractor / clip_id[:2] / f"{clip_id}{SUFFIX}"


def _validate(visual: np.ndarray, audio: np.ndarray, where: str) -> None:
    if visual.shape != VISUAL_SHAPE or audio.shape != AUDIO_SHAPE:
        raise FeatureError(
            f"{where}: feature shapes visual {visual.shape} / audio {audio.shape}, "
            f"expected {VISUAL_SHAPE} / {AUDIO_SHAPE}",
            hint="re-extract the clip (`avel features extract --force`)",
        )
    if visual.dtype != STORED_DTYPE or audio.dtype != STORED_DTYPE:
        raise FeatureError(
            f"{where}: feature dtypes {visual.dtype} / {audio.dtype}, expected float16",
            hint="re-extract the clip (`avel features extract --force`)",
        )


def write_features(
    path: str | Path, visual: np.ndarray, audio: np.ndarray, provenance: Provenance
) -> Path:
    """Write atomically (``fileio.atomic_open``: a reader sees the old file or the whole new
    one); arrays are cast to float16 first."""
    path = Path(path)
    with np.errstate(over="ignore"):  # overflow becomes inf, refused just below
        visual = np.ascontiguousarray(visual, dtype=STORED_DTYPE)
        audio = np.ascontiguousarray(audio, dtype=STORED_DTYPE)
    _validate(visual, audio, str(path))
    if not (np.isfinite(visual).all() and np.isfinite(audio).all()):
        raise FeatureError(
            f"{path}: features contain inf/nan (float16 overflow?)",
            hint="check the weights and preprocessing recorded in the provenance",
        )
    with atomic_open(path, binary=True) as f:
        np.savez(f, visual=visual, audio=audio, provenance=np.array(provenance.to_json()))
    return path


def read_features(path: str | Path) -> FeatureFile:
    """Arrays + provenance of one feature file; FeatureError naming the file when corrupt."""
    path = Path(path)
    hint = "re-extract the clip (`avel features extract --force`)"
    if not path.is_file():
        raise FeatureError(f"{path}: feature file not found", hint=hint)
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = {"visual", "audio", "provenance"} - set(npz.files)
            if missing:
                raise FeatureError(f"{path}: feature file lacks {sorted(missing)}", hint=hint)
            visual, audio = npz["visual"], npz["audio"]
            provenance_text = str(npz["provenance"][()])
    except FeatureError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as e:
        raise FeatureError(f"{path}: corrupt feature file ({e})", hint=hint) from e
    _validate(visual, audio, str(path))
    return FeatureFile(visual, audio, Provenance.from_json(provenance_text, str(path)))

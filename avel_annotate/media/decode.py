"""Decode a fetched clip into the arrays the feature extractors eat (PyAV; the only decoder user).

A fetched clip is a normalised 10-s mp4 (H.264, constant frame rate) plus a 16 kHz mono 16-bit
wav. :func:`decode_clip` returns

- ``frames``: uint8 ``[n_segments * frames_per_second, size, size, 3]`` RGB, the reference's
  frame indices (:func:`reference_frame_indices`), each squashed (no crop) to ``size x size`` by
  swscale (bilinear) through PyAV's ``reformat``;
- ``wav``: float32 ``[n_samples]`` in [-1, 1).

Only the selected frames are converted to RGB; the others are decoded and dropped. Functions
take plain paths and return numpy arrays, so ``features/`` never sees the decoder.
"""

from __future__ import annotations

import logging
import wave
from pathlib import Path

import numpy as np

from avel_annotate.errors import MediaError

logger = logging.getLogger(__name__)

N_SEGMENTS = 10
FRAMES_PER_SECOND = 16
FRAME_SIZE = 224
SAMPLE_RATE = 16_000
INTERPOLATION = "BILINEAR"


def reference_frame_indices(
    n_frames: int, n_segments: int = N_SEGMENTS, frames_per_second: int = FRAMES_PER_SECOND
) -> list[int]:
    """The reference's frame picks: ``floor(l*fi + (i/fps)*fi)``, ``fi = floor(n_frames/n_seg)``.

    Computed in integers (``l*fi + (i*fi)//fps``), which is the exact floor of the same rational;
    for ``fps = 16`` it equals the reference's float expression bit for bit.
    """
    if n_frames <= 0:
        raise ValueError(f"n_frames must be positive, got {n_frames}")
    fi = n_frames // n_segments
    return [
        seg * fi + (i * fi) // frames_per_second
        for seg in range(n_segments)
        for i in range(frames_per_second)
    ]


def decoder_description() -> str:
    """Decoder name and versions for feature provenance, e.g. ``pyav-18.1.0/libavcodec-62.28``."""
    import av

    codec = av.library_versions.get("libavcodec", ())
    codec_version = ".".join(str(v) for v in codec[:2])
    return f"pyav-{av.__version__}/libavcodec-{codec_version}/swscale-{INTERPOLATION.lower()}"


def _decode_selected(
    path: Path, n_frames: int | None, n_segments: int, frames_per_second: int, size: int
) -> tuple[list[np.ndarray] | None, int]:
    """One pass over the video.

    Picks the reference indices for ``n_frames`` (or, when None, for the container's declared
    count). Returns the picked RGB arrays in index order - None when the count used for picking
    turned out wrong or unknown - and the number of frames actually decoded.
    """
    import av

    picked: dict[int, np.ndarray] = {}
    n_seen = 0
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(
                    f"{path}: no video stream", hint="re-fetch the clip (`avel fetch --force`)"
                )
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            n_used = n_frames if n_frames is not None else int(stream.frames or 0)
            indices = (
                reference_frame_indices(n_used, n_segments, frames_per_second) if n_used > 0 else []
            )
            wanted = set(indices)
            for frame in container.decode(stream):
                if n_seen in wanted:
                    rgb = frame.reformat(
                        width=size, height=size, format="rgb24", interpolation=INTERPOLATION
                    )
                    picked[n_seen] = rgb.to_ndarray()
                n_seen += 1
    except MediaError:
        raise
    except (av.FFmpegError, OSError, ValueError) as e:
        raise MediaError(
            f"{path}: cannot decode video ({e})",
            hint="check the file with ffprobe; re-fetch the clip (`avel fetch --force`)",
        ) from e
    if n_used != n_seen or n_used == 0:
        return None, n_seen
    return [picked[i] for i in indices], n_seen


def decode_frames(
    path: str | Path,
    *,
    n_segments: int = N_SEGMENTS,
    frames_per_second: int = FRAMES_PER_SECOND,
    size: int = FRAME_SIZE,
) -> np.ndarray:
    """The ``n_segments * frames_per_second`` reference frames, uint8 ``[n, size, size, 3]`` RGB.

    The frame count comes from the container (mp4 sample table); if decoding finds a different
    count, the indices are recomputed from the true count and the file is decoded again.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: video file not found", hint="run `avel fetch` for this clip")
    frames, n_seen = _decode_selected(path, None, n_segments, frames_per_second, size)
    if frames is None:
        if n_seen == 0:
            raise MediaError(f"{path}: the video has no frames", hint="re-fetch the clip")
        logger.info("%s: container frame count was wrong; decoded %d, re-picking", path, n_seen)
        frames, _ = _decode_selected(path, n_seen, n_segments, frames_per_second, size)
        if frames is None:
            raise MediaError(f"{path}: frame count changed between two decodes")
    return np.stack(frames)


def read_wav(path: str | Path, *, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A 16-bit mono PCM wav as float32 ``[n_samples]`` scaled to [-1, 1)."""
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (OSError, EOFError, wave.Error) as e:
        raise MediaError(
            f"{path}: cannot read wav ({e})", hint="re-fetch the clip (`avel fetch --force`)"
        ) from e
    if (channels, width, rate) != (1, 2, sample_rate):
        raise MediaError(
            f"{path}: wav is {channels} ch / {8 * width} bit / {rate} Hz, "
            f"expected mono 16-bit {sample_rate} Hz",
            hint="re-fetch the clip so it is normalised again",
        )
    return (np.frombuffer(raw, dtype="<i2").astype(np.float32)) / 32768.0


def decode_clip(
    mp4_path: str | Path,
    wav_path: str | Path,
    *,
    frames_per_second: int = FRAMES_PER_SECOND,
    size: int = FRAME_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """``(frames uint8 [10*fps, size, size, 3], wav float32 [n])``: the extractor's decode_fn."""
    frames = decode_frames(mp4_path, frames_per_second=frames_per_second, size=size)
    return frames, read_wav(wav_path)

"""Probe media with ffprobe (through ffmpeg-python) and verify a normalised clip.

A clean return from yt-dlp or ffmpeg is not proof of a good file (a server without Range support
once left a 262-byte file with no streams and no error), so every file is probed: streams
present, duration, size. Failures raise :class:`ProbeError` whose ``detail`` is classified by
``domain.fetch_errors`` (stage ``probe``).
"""

from __future__ import annotations

import logging
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg

from avel_annotate.errors import MediaError
from avel_annotate.fileio import sha256_file

log = logging.getLogger(__name__)

CLIP_S = 10.0
DURATION_TOLERANCE_S = 0.1
WAV_RATE = 16_000
WAV_SAMPLES = 160_000


class ProbeError(MediaError):
    """ffprobe failed, or a file lacks a stream or has the wrong length."""

    stage = "probe"

    def __init__(self, clip_id: str, detail: str, hint: str | None = None) -> None:
        super().__init__(f"clip {clip_id}: {detail}", hint or "run `avel fetch --retry-failed`")
        self.clip_id = clip_id
        self.detail = detail


@dataclass(frozen=True)
class MediaInfo:
    duration_s: float
    video_codec: str | None
    audio_codec: str | None
    width: int | None
    height: int | None
    fps: float | None
    audio_duration_s: float | None
    video_duration_s: float | None
    size_bytes: int


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _rate(value: Any) -> float | None:
    try:
        rate = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return None
    return float(rate) if rate > 0 else None


def probe_media(path: Path, clip_id: str) -> MediaInfo:
    """Streams and durations of ``path``; raises :class:`ProbeError` if ffprobe cannot read it."""
    try:
        size = path.stat().st_size
    except OSError as e:
        raise ProbeError(clip_id, f"{path.name}: cannot stat: {e.strerror}") from e
    if size == 0:
        raise ProbeError(clip_id, f"{path.name}: empty file")
    try:
        data = ffmpeg.probe(str(path.resolve()), cmd="ffprobe")
    except ffmpeg.Error as e:
        stderr = (e.stderr or b"").decode("utf-8", "replace").strip()
        last = stderr.splitlines()[-1] if stderr else "ffprobe failed"
        raise ProbeError(clip_id, f"{path.name}: ffprobe: {last}") from e
    video = next((s for s in data.get("streams", []) if s.get("codec_type") == "video"), None)
    audio = next((s for s in data.get("streams", []) if s.get("codec_type") == "audio"), None)
    fmt = data.get("format", {})
    v_dur = _float(video.get("duration")) if video else None
    a_dur = _float(audio.get("duration")) if audio else None
    duration = _float(fmt.get("duration")) or max(v_dur or 0.0, a_dur or 0.0)
    return MediaInfo(
        duration_s=duration,
        video_codec=video.get("codec_name") if video else None,
        audio_codec=audio.get("codec_name") if audio else None,
        width=int(video["width"]) if video and "width" in video else None,
        height=int(video["height"]) if video and "height" in video else None,
        fps=_rate(video.get("avg_frame_rate")) if video else None,
        audio_duration_s=a_dur,
        video_duration_s=v_dur,
        size_bytes=size,
    )


def require_streams(info: MediaInfo, clip_id: str) -> None:
    """A source must have video and audio: an AVEL clip without sound cannot be labelled."""
    if info.video_codec is None and info.audio_codec is None:
        raise ProbeError(clip_id, "the downloaded file has no streams")
    if info.video_codec is None:
        raise ProbeError(clip_id, "the source has no video stream", "nothing to fix: skipped")
    if info.audio_codec is None:
        raise ProbeError(clip_id, "the source has no audio stream", "nothing to fix: skipped")


@dataclass(frozen=True)
class VerifiedClip:
    duration_s: float
    media_bytes: int
    wav_bytes: int
    media_sha256: str
    wav_sha256: str


def verify_clip(mp4: Path, wav: Path, clip_id: str) -> VerifiedClip:
    """The normalised pair: H.264 + AAC, 10 +/- 0.1 s; wav 16 kHz mono s16, 160,000 samples."""
    info = probe_media(mp4, clip_id)
    if info.video_codec != "h264" or info.audio_codec != "aac":
        raise ProbeError(
            clip_id,
            f"normalised mp4 has streams {info.video_codec}/{info.audio_codec}, not h264/aac",
        )
    for name, dur in (("file", info.duration_s), ("video", info.video_duration_s)):
        if dur is None or abs(dur - CLIP_S) > DURATION_TOLERANCE_S:
            raise ProbeError(clip_id, f"normalised mp4 {name} lasts {dur} s, not {CLIP_S:g} s")
    try:
        with wave.open(str(wav), "rb") as w:
            params = (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes())
    except (OSError, EOFError, wave.Error) as e:
        raise ProbeError(clip_id, f"normalised wav unreadable: {e}") from e
    if params != (WAV_RATE, 1, 2, WAV_SAMPLES):
        raise ProbeError(
            clip_id,
            f"normalised wav is rate/channels/bytes/samples {params}, "
            f"not ({WAV_RATE}, 1, 2, {WAV_SAMPLES})",
        )
    return VerifiedClip(
        duration_s=info.duration_s,
        media_bytes=info.size_bytes,
        wav_bytes=wav.stat().st_size,
        media_sha256=sha256_file(mp4),
        wav_sha256=sha256_file(wav),
    )

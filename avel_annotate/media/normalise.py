"""One ffmpeg pass from a downloaded source to the normalised clip pair.

Outputs, both exactly 10 s:

- mp4: H.264 (yuv420p, even size, constant frame rate) + AAC, ``+faststart``; a source that ends
  early is padded (last frame cloned, silence appended) so every clip has the same length;
- wav: 16 kHz mono signed 16-bit, exactly 160,000 samples (padded with silence, then trimmed:
  without the trim AAC priming gives 160,125).

The command is built with ffmpeg-python and its stderr is always captured, so a failure carries
ffmpeg's own words (:class:`NormaliseError`, stage ``normalise``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from avel_annotate.errors import MediaError
from avel_annotate.media.probe import CLIP_S, WAV_RATE, WAV_SAMPLES

log = logging.getLogger(__name__)

DEFAULT_FPS = 25
MAX_FPS = 60


class NormaliseError(MediaError):
    """ffmpeg failed to produce the normalised mp4 + wav."""

    stage = "normalise"

    def __init__(self, clip_id: str, detail: str) -> None:
        super().__init__(f"clip {clip_id}: ffmpeg: {detail}", "run `avel fetch --retry-failed`")
        self.clip_id = clip_id
        self.detail = detail


@dataclass(frozen=True)
class NormaliseSettings:
    # ultrafast, one thread: ~0.8 CPU-s per 10-s 360p clip of synthetic (hard) content, within
    # the 1.0 core-s budget (superfast: ~1.3 core-s, files ~30 % smaller; `--encoder-preset`).
    # Concurrency comes from --workers, so one encoder thread per clip wastes least.
    preset: str = "ultrafast"
    crf: int = 23
    audio_bitrate: str = "128k"
    threads: int = 1


X264_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
)  # fmt: skip


def output_fps(source_fps: float | None) -> int:
    """The source's frame rate rounded to an integer (constant frame rate), else 25."""
    if source_fps is None or not 1 <= source_fps <= MAX_FPS:
        return DEFAULT_FPS
    return max(1, round(source_fps))


def normalise(
    src: Path,
    mp4_out: Path,
    wav_out: Path,
    *,
    clip_id: str,
    fps: int,
    seek_s: float | None = None,
    opts: NormaliseSettings | None = None,
) -> None:
    """Write ``mp4_out`` and ``wav_out`` from ``src`` (from ``seek_s`` when cutting locally)."""
    stream = _command(src, mp4_out, wav_out, fps, seek_s, opts or NormaliseSettings())
    log.debug("clip %s: ffmpeg %s", clip_id, " ".join(stream.get_args()))
    try:
        stream.run(cmd="ffmpeg", capture_stdout=True, capture_stderr=True)
    except ffmpeg.Error as e:
        stderr = (e.stderr or b"").decode("utf-8", "replace").strip()
        detail = " ".join(stderr.splitlines()[-3:]) if stderr else "ffmpeg failed without a message"
        raise NormaliseError(clip_id, detail) from e
    except OSError as e:
        raise NormaliseError(clip_id, f"cannot run ffmpeg: {e.strerror}") from e


def _command(
    src: Path, mp4_out: Path, wav_out: Path, fps: int, seek_s: float | None, o: NormaliseSettings
) -> Any:
    """The one ffmpeg run: constant-rate 10-s H.264 + AAC mp4, and 16 kHz mono s16 wav, both
    padded (last frame held, silence) to exactly 10 s."""
    in_args: dict[str, object] = {"t": f"{CLIP_S:g}"}
    if seek_s:
        in_args["ss"] = f"{seek_s:g}"
    inp = ffmpeg.input(str(src.resolve()), **in_args)
    video = (
        inp.video.filter("fps", fps=fps)
        .filter("scale", "trunc(iw/2)*2", "trunc(ih/2)*2")
        .filter("tpad", stop_mode="clone", stop_duration=f"{CLIP_S:g}")
        .filter("trim", duration=f"{CLIP_S:g}")
        .filter("setpts", "PTS-STARTPTS")
    )
    split = inp.audio.filter("asetpts", "PTS-STARTPTS").filter_multi_output("asplit")
    audio_mp4 = (
        split.stream(0).filter("apad", whole_dur=f"{CLIP_S:g}").filter("atrim", end=f"{CLIP_S:g}")
    )
    n = WAV_SAMPLES
    audio_wav = (
        split.stream(1)
        .filter("aresample", WAV_RATE)
        .filter("aformat", sample_fmts="s16", channel_layouts="mono")
        .filter("apad", whole_len=n)
        .filter("atrim", end_sample=n)
    )
    out_mp4 = ffmpeg.output(
        video,
        audio_mp4,
        str(mp4_out.resolve()),
        format="mp4",
        vcodec="libx264",
        preset=o.preset,
        crf=o.crf,
        pix_fmt="yuv420p",
        fps_mode="cfr",
        r=fps,
        acodec="aac",
        audio_bitrate=o.audio_bitrate,
        movflags="+faststart",
        t=f"{CLIP_S:g}",
        threads=o.threads,
    )
    out_wav = ffmpeg.output(
        audio_wav, str(wav_out.resolve()), format="wav", acodec="pcm_s16le", ar=WAV_RATE, ac=1
    )
    stream = (
        ffmpeg.merge_outputs(out_mp4, out_wav)
        .global_args("-nostdin", "-hide_banner", "-loglevel", "error")
        .overwrite_output()
    )
    return stream

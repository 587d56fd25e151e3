"""Source videos for `avel demo`, generated with ffmpeg: no download, no real footage.

A source is a test pattern with a quiet hum. During its event seconds a coloured box (the
category's colour) covers the frame and a tone (the category's pitch) sounds, so an event is
both seen and heard there, and random-weight features still separate events from background.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from avel_annotate.errors import MediaError
from avel_annotate.fileio import atomic_path

COLOURS = ("red", "blue", "yellow", "green", "magenta", "cyan", "orange", "white")
PITCHES = (330, 440, 550, 660, 770, 880, 990, 1100)


def _enable(events: Sequence[tuple[float, float]]) -> str:
    if not events:
        return "0"
    return "+".join(f"between(t,{a:g},{b - 0.001:g})" for a, b in events)


def make_demo_source(
    path: Path,
    duration_s: float,
    category: int,
    events: Sequence[tuple[float, float]],
    *,
    size: str = "320x180",
    fps: int = 25,
) -> Path:
    """Write an H.264 + AAC mp4 (moov first) of ``duration_s`` seconds to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    colour = COLOURS[category % len(COLOURS)]
    pitch = PITCHES[category % len(PITCHES)]
    on = _enable(events)
    video = (
        f"testsrc2=size={size}:rate={fps}:duration={duration_s},"
        f"drawbox=x=0:y=0:w=iw:h=ih:color={colour}@0.85:t=fill:enable='{on}'"
    )
    audio = (
        f"sine=frequency={pitch}:sample_rate=44100:duration={duration_s},"
        f"volume=volume='if({on},1.0,0.02)':eval=frame"
    )
    with atomic_path(path, suffix=".mp4") as tmp:  # ffmpeg picks the format from the suffix
        cmd = [
            "ffmpeg", "-nostdin", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", video, "-f", "lavfi", "-i", audio,
            "-c:v", "libx264", "-preset", "ultrafast", "-g", str(fps), "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart", "-shortest", str(tmp),
        ]  # fmt: skip
        try:
            subprocess.run(cmd, check=True, capture_output=True, text=True)
        except FileNotFoundError as e:
            raise MediaError(
                "ffmpeg is not installed", "install it: apt-get install -y ffmpeg"
            ) from e
        except subprocess.CalledProcessError as e:
            last = (e.stderr or "").strip().splitlines()[-1:] or ["?"]
            raise MediaError(f"{path}: ffmpeg could not make the demo source: {last[0]}") from e
    return path

"""Test media generated with ffmpeg at test time (lavfi testsrc2 + sine): small, a few seconds."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def make_source(
    path: Path,
    duration_s: float,
    *,
    audio: bool = True,
    size: str = "320x180",
    fps: int = 25,
    gop: int = 50,
) -> Path:
    """An H.264 (+ AAC) mp4 with moov first, keyframes every ``gop`` frames."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        "ffmpeg",
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={size}:rate={fps}:duration={duration_s}",
    ]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={duration_s}"]
    cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-g", str(gop), "-pix_fmt", "yuv420p"]
    if audio:
        cmd += ["-c:a", "aac", "-b:a", "64k"]
    cmd += ["-movflags", "+faststart", str(path)]
    subprocess.run(cmd, check=True)
    return path


def serve_copies(root: Path, ytids: list[str], duration_s: float = 20) -> Path:
    """One generated source under ``root``, copied to ``<ytid>.mp4`` for every id (encoding
    once keeps module set-up short); returns ``root``."""
    first = make_source(root / f"{ytids[0]}.mp4", duration_s)
    for ytid in ytids[1:]:
        shutil.copy(first, root / f"{ytid}.mp4")
    return root

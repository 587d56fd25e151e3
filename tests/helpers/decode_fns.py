"""Decode functions for worker-process tests (module level: a spawned worker unpickles them)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from avel_annotate.media.decode import decode_clip


def decode_or_die(mp4: Path, wav: Path) -> tuple[np.ndarray, np.ndarray]:
    """Real decode, except that a clip named ``die.mp4`` kills its worker process outright."""
    if mp4.name == "die.mp4":
        os._exit(7)
    return decode_clip(mp4, wav, frames_per_second=2)


class Unpicklable(Exception):
    """An exception that cannot cross a pipe (its constructor wants two arguments)."""

    def __init__(self, a: str, b: str) -> None:
        super().__init__(f"{a}/{b}")


def decode_raising_unpicklable(mp4: Path, wav: Path) -> tuple[np.ndarray, np.ndarray]:
    raise Unpicklable("x", str(mp4.name))

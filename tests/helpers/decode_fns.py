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


def report_modules(mp4: Path, wav: Path) -> tuple[np.ndarray, np.ndarray]:
    """Fails on purpose, saying whether torch and the parent's main script got imported here."""
    import sys

    main = sys.modules.get("__mp_main__") or sys.modules.get("__main__")
    has_probe = hasattr(main, "iter_decoded")
    raise RuntimeError(f"modules: torch={'torch' in sys.modules} main_has_probe={has_probe}")

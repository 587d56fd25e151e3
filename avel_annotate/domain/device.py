"""Which torch device a run uses: ``auto`` (the default) is CUDA when available, else CPU."""

from __future__ import annotations

import re

from avel_annotate.errors import ConfigError

DEVICE_HELP = "auto | cpu | cuda | cuda:N (auto: CUDA when available, else CPU)."
_CUDA = re.compile(r"cuda(?::(\d+))?")


def resolve_device(requested: str | None, *, cuda_available: bool, cuda_count: int) -> str:
    """The concrete device for ``requested`` (``None`` means ``auto``), checked against what the
    machine has; a CUDA device that is not there is a ConfigError naming the fix."""
    wanted = (requested or "auto").strip().lower()
    if wanted == "auto":
        return "cuda" if cuda_available and cuda_count > 0 else "cpu"
    if wanted == "cpu":
        return "cpu"
    match = _CUDA.fullmatch(wanted)
    if match is None:
        raise ConfigError(f"unknown device {requested!r}", f"use {DEVICE_HELP}")
    if not cuda_available or cuda_count == 0:
        raise ConfigError(
            f"device {requested!r} asked for but CUDA is not available",
            "use --device auto or --device cpu",
        )
    index = int(match.group(1) or 0)
    if index >= cuda_count:
        raise ConfigError(
            f"device {requested!r} asked for but this machine has {cuda_count} CUDA device(s)",
            f"use cuda:0 ... cuda:{cuda_count - 1}",
        )
    return wanted

"""Resolve ``--device`` (``auto`` by default) against the torch CUDA runtime of this machine."""

from __future__ import annotations

import logging
from collections.abc import Callable

from avel_annotate.domain.device import resolve_device

log = logging.getLogger(__name__)


def _torch_cuda() -> tuple[bool, int]:
    import torch

    available = bool(torch.cuda.is_available())
    return available, (torch.cuda.device_count() if available else 0)


def pick_device(
    requested: str | None, cuda_probe: Callable[[], tuple[bool, int]] | None = None
) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda[:N]`` checked to exist.

    ``cuda_probe`` returns ``(available, device count)``; tests inject one.
    """
    available, count = (cuda_probe or _torch_cuda)()
    device = resolve_device(requested, cuda_available=available, cuda_count=count)
    log.info("device %s (asked for %s)", device, requested or "auto")
    return device

"""Resolve ``--device`` (``auto`` by default) against the torch CUDA runtime of this machine."""

from __future__ import annotations

import logging
from collections.abc import Callable

from avel_annotate.domain.device import resolve_device
from avel_annotate.model.device import cuda_runtime

log = logging.getLogger(__name__)


def pick_device(
    requested: str | None, cuda_probe: Callable[[], tuple[bool, int]] | None = None
) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda[:N]`` checked to exist.

    ``cuda_probe`` returns ``(available, device count)``; tests inject one.
    """
    available, count = (cuda_probe or cuda_runtime)()
    device = resolve_device(requested, cuda_available=available, cuda_count=count)
    log.info("device %s (asked for %s)", device, requested or "auto")
    return device

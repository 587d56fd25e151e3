"""What this machine's torch runtime offers: its version and the CUDA devices it sees.

The services ask here (they never import torch themselves); the choice of device from a request
such as ``auto`` or ``cuda:1`` is the pure ``domain/device.py``.
"""

from __future__ import annotations


def torch_version() -> str:
    import torch

    return str(torch.__version__)


def cuda_runtime() -> tuple[bool, int]:
    """``(available, device count)`` as torch reports them."""
    import torch

    available = bool(torch.cuda.is_available())
    return available, (torch.cuda.device_count() if available else 0)


def cuda_device_names() -> list[str]:
    """The name of every CUDA device torch sees (none on a CPU machine)."""
    import torch

    if not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]

"""The reference recipe of SPEC-model.md: deterministic official weights and inputs."""

from __future__ import annotations

import math

import torch

from avel_annotate.model.official import official_shapes


def _offset(name: str) -> float:
    return (sum((k + 1) * ord(ch) for k, ch in enumerate(name)) % 1000) / 100


def fill(name: str, shape: tuple[int, ...]) -> torch.Tensor:
    n = math.prod(shape)
    i = torch.arange(n, dtype=torch.float64)
    return (0.05 * torch.sin(0.013 * i + _offset(name))).reshape(shape)


def unused_shapes(variant: str, c: int = 28) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {
        "linear_v.weight": (128, 512),
        "linear_v.bias": (128,),
        "v_classify.L1.weight": (64, 256),
        "v_classify.L2.weight": (c, 64),
        "a_classify.L1.weight": (64, 256),
        "a_classify.L2.weight": (c, 64),
    }
    if variant.startswith("cpsp"):
        shapes.update({"L1.weight": (64, 256), "L2.weight": (c, 64)})
    else:
        shapes.update({"L3.weight": (1, c + 1), "L3.bias": (1,), "L4.weight": (1, 256)})
    return shapes


def official_state_dict(variant: str, c: int = 28, prefix: str = "module.") -> dict:
    shapes = {**official_shapes(variant, c), **unused_shapes(variant, c)}
    return {prefix + name: fill(name, shape) for name, shape in shapes.items()}


def reference_inputs(b: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    ia = torch.arange(b * 10 * 128, dtype=torch.float64)
    iv = torch.arange(b * 10 * 7 * 7 * 512, dtype=torch.float64)
    audio = (0.5 + 0.5 * torch.sin(0.1 * ia)).reshape(b, 10, 128)
    video = (0.5 + 0.5 * torch.sin(0.01 * iv + 0.3)).reshape(b, 10, 7, 7, 512)
    return audio, video


def reference_labels(c: int = 28) -> tuple[torch.Tensor, torch.Tensor]:
    """clip 0: category 3 on all ten segments; clip 1: category 5 on 2..5, background else."""
    labels = torch.full((2, 10), c, dtype=torch.long)
    labels[0, :] = 3
    labels[1, 2:6] = 5
    return labels, torch.tensor([3, 5])

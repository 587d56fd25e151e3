"""Model checkpoints: config dict + state_dict + metadata, written atomically.

A checkpoint file is a ``torch.save`` of ``{"format": "avel-cpsp", "format_version": 1,
"config": ModelConfig.to_dict(), "state_dict": ..., "metadata": {...}}``; loading rebuilds the
architecture from the stored config. Files are written through ``fileio.atomic_path`` (a
temporary name in the same folder, fsync, ``os.replace``), so a crash never leaves a
half-written checkpoint and a failed save leaves no temporary file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from avel_annotate import fileio
from avel_annotate.errors import ModelError
from avel_annotate.model.config import ModelConfig
from avel_annotate.model.network import CPSPNet

FORMAT = "avel-cpsp"
FORMAT_VERSION = 1


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` onto ``path`` atomically (``fileio.atomic_path``)."""
    path = Path(path)
    with fileio.atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path


def save_checkpoint(
    path: str | Path, model: CPSPNet, metadata: dict[str, Any] | None = None
) -> Path:
    """Write ``model`` (weights as float32 on CPU) with its config and JSON-able metadata."""
    state = {k: v.detach().to("cpu", torch.float32) if v.is_floating_point() else v.cpu()
             for k, v in model.state_dict().items()}  # fmt: skip
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": model.config.to_dict(),
        "state_dict": state,
        "metadata": dict(metadata or {}),
    }
    return atomic_torch_save(payload, path)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The raw payload of a checkpoint, checked for format and required keys."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"checkpoint {path} does not exist", hint="check the path")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many exception types for a bad file
        raise ModelError(
            f"cannot read checkpoint {path}: {e}",
            hint="the file is damaged or not a checkpoint; retrain or restore it",
        ) from e
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelError(
            f"{path} is not an avel CPSP checkpoint (no format {FORMAT!r})",
            hint="for the authors' released weights use load_official(path, variant)",
        )
    if payload.get("format_version", 0) > FORMAT_VERSION:
        raise ModelError(
            f"{path} has format_version {payload['format_version']}, newer than this code",
            hint="upgrade avel-annotate",
        )
    for key in ("config", "state_dict"):
        if key not in payload:
            raise ModelError(f"checkpoint {path} lacks key {key!r}", hint="the file is damaged")
    return payload


def load_checkpoint(
    path: str | Path, dtype: torch.dtype = torch.float32
) -> tuple[CPSPNet, dict[str, Any]]:
    """Rebuild the model from a checkpoint; returns ``(model in eval mode, metadata)``."""
    payload = read_checkpoint(path)
    config = ModelConfig.from_dict(payload["config"])
    model = CPSPNet(config).to(dtype)
    try:
        missing, unexpected = model.load_state_dict(payload["state_dict"], strict=False)
    except RuntimeError as e:  # shape mismatches
        raise ModelError(
            f"checkpoint {path} does not match its config: {e}",
            hint="the file was edited or damaged; retrain or restore it",
        ) from e
    if missing or unexpected:
        raise ModelError(
            f"checkpoint {path} does not match its config: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}",
            hint="the file was edited or damaged; retrain or restore it",
        )
    return model.eval(), dict(payload.get("metadata", {}))

"""Evaluate a model on a clip dataset: predictions and the metrics of ``domain.metrics``."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from avel_annotate.domain.metrics import SegmentReport, segment_report
from avel_annotate.model.data import ClipDataset, batch_indices, iter_batches
from avel_annotate.model.network import CPSPNet, predict


@dataclass
class EvalResult:
    report: SegmentReport
    positions: NDArray[np.int64]  # dataset positions, row order of the arrays below
    truth: NDArray[np.int64]  # [N, T]
    predicted: NDArray[np.int64]  # [N, T]
    event_prob: NDArray[np.float32]  # [N, T]
    category_prob: NDArray[np.float32]  # [N, C]


def autocast_context(
    bf16: bool, device_type: str = "cpu"
) -> contextlib.AbstractContextManager[object]:
    """bfloat16 autocast on CPU (AMX) when asked, else a no-op."""
    if bf16:
        return torch.autocast(device_type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def evaluate(
    model: CPSPNet,
    dataset: ClipDataset,
    *,
    positions: Sequence[int] | NDArray[np.int64] | None = None,
    batch_size: int = 128,
    bf16: bool = False,
) -> EvalResult:
    """Predict every clip (eval mode, streaming batches) and compute all segment metrics."""
    was_training = model.training
    model.eval()
    dtype = next(model.parameters()).dtype
    device = next(model.parameters()).device
    pos = np.arange(len(dataset)) if positions is None else np.asarray(positions, dtype=np.int64)
    parts: dict[str, list[NDArray]] = {k: [] for k in ("pos", "truth", "pred", "ev", "cat")}
    for batch in iter_batches(dataset, batch_indices(pos, batch_size, shuffle=False)):
        visual = batch.visual.to(device, torch.bfloat16 if bf16 else dtype)
        with autocast_context(bf16, device.type):
            out = model(audio=batch.audio.to(device, dtype), video=visual)
        pred = predict(_float_output(out), model.config)
        parts["pos"].append(batch.index.numpy())
        parts["truth"].append(batch.segment_labels.numpy())
        parts["pred"].append(pred.segment_labels.cpu().numpy())
        parts["ev"].append(pred.event_prob.float().cpu().numpy())
        parts["cat"].append(pred.category_prob.float().cpu().numpy())
    model.train(was_training)
    c = model.config.n_categories
    t = model.config.n_segments
    cat = {k: np.concatenate(v) if v else np.zeros((0, t)) for k, v in parts.items()}
    truth = cat["truth"].astype(np.int64).reshape(-1, t)
    predicted = cat["pred"].astype(np.int64).reshape(-1, t)
    return EvalResult(
        report=segment_report(truth, predicted, c),
        positions=cat["pos"].astype(np.int64).ravel(),
        truth=truth,
        predicted=predicted,
        event_prob=cat["ev"].astype(np.float32).reshape(-1, t),
        category_prob=cat["cat"].astype(np.float32).reshape(len(truth), -1),
    )


def _float_output(out):  # type: ignore[no-untyped-def]
    """Logits in float32 (bf16 autocast returns bf16 tensors)."""
    for name in ("event_logits", "category_logits", "segment_logits", "video_logits"):
        value = getattr(out, name)
        if value is not None and value.dtype == torch.bfloat16:
            setattr(out, name, value.float())
    return out

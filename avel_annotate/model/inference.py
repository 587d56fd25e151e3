"""Batched inference over numpy arrays: the torch side of `avel predict`.

The service reads feature files and writes predictions; this module only turns a batch of
features (numpy, any float dtype) into numpy outputs, so no torch type crosses into services.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from avel_annotate.model.network import CPSPNet
from avel_annotate.model.network import predict as model_predict


@dataclass(frozen=True)
class BatchPrediction:
    """Per clip of a batch: ``event_prob`` [B, 10], ``category_prob`` [B, C] and the ten class
    ids ``segment_labels`` [B, 10] (``background`` = C marks a second without an event)."""

    event_prob: NDArray[np.float32]
    category_prob: NDArray[np.float32]
    segment_labels: NDArray[np.int64]
    background: int


class Predictor:
    """A model in eval mode on one device, scoring batches of features."""

    def __init__(self, model: CPSPNet, device: str = "cpu") -> None:
        self.device = device
        self.net = model.to(device).eval()

    @property
    def n_categories(self) -> int:
        return self.net.config.n_categories

    def predict(self, audio: NDArray[Any], visual: NDArray[Any]) -> BatchPrediction:
        """``audio`` [B, 10, 128] and ``visual`` [B, 10, 7, 7, 512] -> the batch's outputs."""
        a = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)).to(self.device)
        v = torch.from_numpy(np.ascontiguousarray(visual, dtype=np.float32)).to(self.device)
        with torch.no_grad():
            pred = model_predict(self.net(audio=a, video=v), self.net.config)
        return BatchPrediction(
            event_prob=pred.event_prob.float().cpu().numpy(),
            category_prob=pred.category_prob.float().cpu().numpy(),
            segment_labels=pred.segment_labels.cpu().numpy(),
            background=self.n_categories,
        )

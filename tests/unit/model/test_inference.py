"""`model.inference.Predictor`: numpy in, numpy out, the same numbers as the network's own
prediction, for both heads."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avel_annotate.model import CPSPNet, ModelConfig, predict
from avel_annotate.model.inference import Predictor


@pytest.mark.parametrize("head", ["event-category", "paper"])
def test_predictor_matches_the_network(head: str) -> None:
    torch.manual_seed(0)
    net = CPSPNet(ModelConfig(n_categories=3, head=head))  # type: ignore[arg-type]
    rng = np.random.default_rng(0)
    audio = rng.standard_normal((2, 10, 128)).astype(np.float16)
    visual = rng.standard_normal((2, 10, 7, 7, 512)).astype(np.float16)
    got = Predictor(net, "cpu").predict(audio, visual)
    with torch.no_grad():
        out = net(audio=torch.from_numpy(audio.astype(np.float32)),
                  video=torch.from_numpy(visual.astype(np.float32)))  # fmt: skip
        want = predict(out, net.config)
    assert isinstance(got.event_prob, np.ndarray) and got.event_prob.shape == (2, 10)
    assert got.category_prob.shape == (2, 3) and got.segment_labels.shape == (2, 10)
    assert got.background == 3
    np.testing.assert_allclose(got.event_prob, want.event_prob.numpy(), rtol=1e-6)
    np.testing.assert_allclose(got.category_prob, want.category_prob.numpy(), rtol=1e-6)
    np.testing.assert_array_equal(got.segment_labels, want.segment_labels.numpy())

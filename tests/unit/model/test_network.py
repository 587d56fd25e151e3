"""Network shapes for every head/setting, dtypes, predictions, config round trip."""

from __future__ import annotations

import pytest
import torch

from avel_annotate.errors import ModelError
from avel_annotate.model import CPSPNet, ModelConfig, predict
from avel_annotate.model.network import prune_connections


def _inputs(b: int = 3, dtype: torch.dtype = torch.float32):
    torch.manual_seed(0)
    return torch.randn(b, 10, 128, dtype=dtype), torch.rand(b, 10, 7, 7, 512, dtype=dtype)


@pytest.mark.parametrize("c", [5, 28, 141])
def test_event_category_head_shapes(c: int) -> None:
    model = CPSPNet(ModelConfig(n_categories=c)).eval()
    out = model(*_inputs())
    assert out.event_logits.shape == (3, 10)
    assert out.category_logits.shape == (3, c)
    assert out.fusion.shape == (3, 10, 256) and out.av_similarity.shape == (3, 10)
    assert out.segment_logits is None and out.video_logits is None
    pred = predict(out, model.config)
    assert pred.event_prob.shape == (3, 10) and pred.category_prob.shape == (3, c)
    assert pred.segment_labels.shape == (3, 10)
    assert ((pred.segment_labels >= 0) & (pred.segment_labels <= c)).all()


def test_paper_head_shapes_and_weighting_branch() -> None:
    fully = CPSPNet(ModelConfig(n_categories=7, head="paper")).eval()
    out = fully(*_inputs())
    assert out.segment_logits.shape == (3, 10, 8) and out.video_logits is None
    weakly = CPSPNet(ModelConfig(n_categories=7, head="paper", setting="weakly")).eval()
    out = weakly(*_inputs())
    assert out.video_logits.shape == (3, 8) and out.segment_weights.shape == (3, 10)
    assert ((out.segment_weights > 0) & (out.segment_weights < 1)).all()
    expected = (out.segment_logits * out.segment_weights[..., None]).mean(1)
    torch.testing.assert_close(out.video_logits, expected)
    # Eq. 7: phi = sigmoid(f^h W6), W6 in R^{C x 1} and no bias
    w6 = weakly.head.weight
    assert w6 is not None and w6.bias is None and tuple(w6.weight.shape) == (1, 8)
    phi = torch.sigmoid(out.segment_logits @ w6.weight.T).squeeze(-1)
    torch.testing.assert_close(out.segment_weights, phi)
    pred = predict(out, weakly.config)
    torch.testing.assert_close(pred.category_prob.sum(-1), torch.ones(3))


def test_runs_in_float64() -> None:
    model = CPSPNet(ModelConfig(n_categories=4)).double().eval()
    out = model(*_inputs(dtype=torch.float64))
    assert out.fusion.dtype == torch.float64


def test_predict_event_category_rule() -> None:
    config = ModelConfig(n_categories=3)
    model = CPSPNet(config).eval()
    out = model(*_inputs(b=1))
    out.event_logits = torch.tensor([[5.0, -5.0] * 5])
    out.category_logits = torch.tensor([[0.0, 3.0, 0.0]])
    pred = predict(out, config)
    assert pred.segment_labels.tolist() == [[1, 3] * 5]


def test_prune_connections_threshold() -> None:
    beta = torch.tensor([[[1.0, 1.0, 8.0], [0.0, 0.0, 0.0]]])
    gamma = prune_connections(beta, tau=0.2)
    torch.testing.assert_close(gamma[0, 0], torch.tensor([0.0, 0.0, 1.0]), atol=1e-6, rtol=0)
    assert gamma[0, 1].abs().sum() == 0  # an all-zero row stays zero (eps, no NaN)


def test_config_round_trip_and_validation() -> None:
    config = ModelConfig(n_categories=141, head="paper", setting="weakly", tau=0.095)
    assert ModelConfig.from_dict(config.to_dict()) == config
    assert config.background == 141
    with pytest.raises(ModelError, match="head"):
        ModelConfig(head="nope")  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="unknown keys"):
        ModelConfig.from_dict({**config.to_dict(), "extra": 1})

"""bf16 autocast against float32: the tolerance docs/model.md states, and the loop's one cast."""

from __future__ import annotations

import torch

from avel_annotate.model import CPSPNet, ModelConfig
from avel_annotate.model.evaluate import autocast_context
from avel_annotate.model.network import predict


def test_float16_features_cast_straight_to_bf16_as_through_float32() -> None:
    x = (torch.randn(4, 10, 7, 7, 512) * 30).to(torch.float16)
    assert torch.equal(x.to(torch.bfloat16), x.to(torch.float32).to(torch.bfloat16))


def test_bf16_forward_matches_float32_within_the_documented_tolerance() -> None:
    torch.manual_seed(0)
    model = CPSPNet(ModelConfig()).eval()
    audio = torch.randn(16, 10, 128)
    visual = torch.rand(16, 10, 7, 7, 512)
    with torch.no_grad():
        ref = predict(model(audio=audio, video=visual), model.config)
        with autocast_context(True, "cpu"):
            out = model(audio=audio, video=visual.to(torch.bfloat16))
        out.event_logits = out.event_logits.float()
        out.category_logits = out.category_logits.float()
        got = predict(out, model.config)
    # docs/model.md: probabilities within 0.02 of float32 (bf16 keeps 8 mantissa bits)
    assert (got.event_prob - ref.event_prob).abs().max() <= 0.02
    assert (got.category_prob - ref.category_prob).abs().max() <= 0.02
    assert (got.event_prob - ref.event_prob).abs().max() > 0  # it did run in bf16

"""Official checkpoint import: parity with the authors' code (SPEC-model.md) and strictness."""

from __future__ import annotations

import pytest
import torch

from avel_annotate.errors import ModelError
from avel_annotate.model import CPSPNet, load_official
from avel_annotate.model.losses import avpsp_loss, compute_losses
from avel_annotate.model.official import official_config, to_official_state_dict

from .official_fixture import (
    fill,
    official_state_dict,
    reference_inputs,
    reference_labels,
)

REFERENCE = {  # name: (sum, first) from the authors' code, float64, eval mode, tau 0.099
    "event_logits": (-2.8572711440, -0.1428762409),
    "category_logits": (-2.0879759146, 0.2754682323),
    "av_similarity": (3.5261276348, 0.1809094148),
    "fusion": (12.4764329264, 0.0565063279),
}
REFERENCE_LOSSES = {"avpsp": 0.0075294467, "event_bce": 0.7242702372, "category_ce": 3.6741056887}


def _run(model: CPSPNet):
    audio, video = reference_inputs()
    with torch.no_grad():
        return model(audio=audio.to(model_dtype(model)), video=video.to(model_dtype(model)))


def model_dtype(model: CPSPNet) -> torch.dtype:
    return next(model.parameters()).dtype


@pytest.mark.parametrize("prefix", ["module.", ""])
def test_cpsp_fully_parity_float64(prefix: str) -> None:
    model = load_official(official_state_dict("cpsp-fully", prefix=prefix), "cpsp-fully")
    assert model_dtype(model) == torch.float64
    assert not model.training
    out = _run(model)
    for name, (total, first) in REFERENCE.items():
        value = getattr(out, name)
        assert value.dtype == torch.float64
        assert abs(value.sum().item() - total) < 1e-8, name
        assert abs(value.flatten()[0].item() - first) < 1e-8, name
    labels, category = reference_labels()
    losses = compute_losses(out, labels, category, model.config, terms=("head", "avpsp"))
    for name, expected in REFERENCE_LOSSES.items():
        assert abs(losses[name].item() - expected) < 1e-8, name
    event = (labels != 28).double()
    assert abs(avpsp_loss(out.av_similarity, event).item() - REFERENCE_LOSSES["avpsp"]) < 1e-8


def test_cpsp_fully_float32_close(tmp_path) -> None:
    path = tmp_path / "cpsp.pt"
    torch.save(official_state_dict("cpsp-fully"), path)
    model = load_official(path, "cpsp-fully", dtype=torch.float32)
    out = _run(model)
    assert out.fusion.dtype == torch.float32
    assert abs(out.fusion.sum().item() - REFERENCE["fusion"][0]) < 1e-3


def test_psp_fully_paper_head_shapes_and_math() -> None:
    state = official_state_dict("psp-fully")
    model = load_official(state, "psp-fully")
    assert model.config.head == "paper" and model.config.tau == 0.099
    out = _run(model)
    assert out.segment_logits is not None and out.segment_logits.shape == (2, 10, 29)
    assert out.event_logits is None
    # the head is L2(relu(L1(fusion))) with the authors' weights
    l1, l2 = fill("L1.weight", (64, 256)), fill("L2.weight", (29, 64))
    expected = torch.relu(out.fusion @ l1.T) @ l2.T
    torch.testing.assert_close(out.segment_logits, expected, rtol=0, atol=1e-12)


def test_cpsp_weakly_loads_and_runs() -> None:
    model = load_official(official_state_dict("cpsp-weakly"), "cpsp-weakly")
    assert model.config.setting == "weakly" and model.config.tau == 0.095
    out = _run(model)
    assert out.event_logits is not None and out.event_logits.shape == (2, 10)
    assert out.category_logits is not None and out.category_logits.shape == (2, 28)
    assert out.video_logits is not None and out.video_logits.shape == (2, 28)
    expected = (torch.sigmoid(out.event_logits)[..., None] * out.category_logits[:, None]).amax(1)
    torch.testing.assert_close(out.video_logits, expected)
    # same trunk as fully, only tau differs: the fusion must differ from the tau 0.099 model
    fully = _run(load_official(official_state_dict("cpsp-fully"), "cpsp-fully"))
    assert out.fusion.shape == fully.fusion.shape


def test_category_count_inferred_from_checkpoint() -> None:
    model = load_official(official_state_dict("cpsp-fully", c=141), "cpsp-fully")
    assert model.config.n_categories == 141
    assert _run(model).category_logits.shape == (2, 141)


def test_missing_key_named() -> None:
    state = official_state_dict("cpsp-fully")
    del state["module.psp.a_fc.weight"]
    with pytest.raises(ModelError, match=r"psp\.a_fc\.weight"):
        load_official(state, "cpsp-fully")


def test_wrong_shape_named() -> None:
    state = official_state_dict("cpsp-fully")
    state["module.fa.1.weight"] = torch.zeros(128, 255, dtype=torch.float64)
    with pytest.raises(ModelError, match=r"fa\.1\.weight.*\(128, 255\)"):
        load_official(state, "cpsp-fully")


def test_wrong_variant_and_bad_file(tmp_path) -> None:
    with pytest.raises(ModelError, match="event_classifier"):
        load_official(official_state_dict("cpsp-fully"), "psp-fully")
    with pytest.raises(ModelError, match="category_classifier"):
        load_official(official_state_dict("psp-fully"), "cpsp-fully")
    with pytest.raises(ModelError, match="unknown official variant"):
        load_official(official_state_dict("cpsp-fully"), "cpsp-semi")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match=r"bad\.pt"):
        load_official(bad, "cpsp-fully")
    with pytest.raises(ModelError, match="does not exist"):
        load_official(tmp_path / "nope.pt", "cpsp-fully")


def test_round_trip_to_official_names() -> None:
    model = CPSPNet(official_config("cpsp-fully")).double()
    again = load_official(to_official_state_dict(model, "cpsp-fully"), "cpsp-fully")
    for (k1, v1), (k2, v2) in zip(
        model.state_dict().items(), again.state_dict().items(), strict=True
    ):
        assert k1 == k2 and torch.equal(v1, v2)


def test_load_official_leaves_the_global_random_state_alone() -> None:
    fully, weakly = official_state_dict("cpsp-fully"), official_state_dict("cpsp-weakly")
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    load_official(fully, "cpsp-fully")
    load_official(weakly, "cpsp-weakly")
    assert torch.equal(torch.rand(3), expected)


class _WholeModel(torch.nn.Module):
    """Stands for the authors' psp_net class: torch.save(model) pickles the class by name."""

    def __init__(self) -> None:
        super().__init__()
        self.L1 = torch.nn.Linear(256, 64, bias=False)


def test_pickled_whole_model_gets_the_two_line_fix(tmp_path) -> None:
    path = tmp_path / "PSP_fully.pt"
    torch.save(_WholeModel(), path)
    with pytest.raises(ModelError) as info:
        load_official(path, "psp-fully")
    text = info.value.one_line()
    assert "\n" not in text
    assert f"{path} is a pickled whole model, not a state_dict" in text
    assert "m = torch.load(path, map_location='cpu', weights_only=False)" in text
    assert "torch.save(m.state_dict(), 'state_dict.pt')" in text

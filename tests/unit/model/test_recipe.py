"""The CPSP recipe, pinned: what the trainer actually does per stage, and the loss weights.

The trainer runs for real on a tiny set (one batch per epoch) while spies record, per step, the
loss terms it asks for and the labels of the clips in the batch, the gradient clipping call and
the learning rate the optimiser steps with, and per stage the scheduler's milestones. Every number
below is written out (paper Sec. 6.1 / Table 5, the authors' scripts); changing any one of them
in the code fails a test here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch

import avel_annotate.model.train as train_module
from avel_annotate.model import CPSPNet, ModelConfig
from avel_annotate.model.checkpoint import load_checkpoint
from avel_annotate.model.data import TensorClipDataset
from avel_annotate.model.losses import avpsp_loss, compute_losses
from avel_annotate.model.train import TrainConfig, train
from tests.unit.model.test_losses import _naive_spsa, _naive_vpsa

C = 3  # background is 3
N_AE = 4  # clips 0..3 all-event (D_ae), 4..7 with background (D_bg)


def _data(n: int = 8, seed: int = 0) -> TensorClipDataset:
    g = torch.Generator().manual_seed(seed)
    labels = torch.full((n, 10), C, dtype=torch.long)
    for i in range(n):
        if i < n // 2:
            labels[i] = i % C
        else:
            labels[i, 2:6] = i % C
    return TensorClipDataset(
        torch.randn(n, 10, 128, generator=g), torch.rand(n, 10, 7, 7, 512, generator=g), labels, C
    )


@dataclass
class Step:
    stage: str
    epoch: int
    terms: tuple[str, ...] = ()
    parts: tuple[str, ...] = ()
    labels: torch.Tensor | None = None
    lambdas: tuple[float, ...] = ()
    clips: list[tuple[float, float]] = field(default_factory=list)  # (max_norm, norm after)
    lrs: list[float] = field(default_factory=list)


@dataclass
class Record:
    steps: list[Step] = field(default_factory=list)
    epochs: list[tuple[str, int, frozenset[int], float]] = field(default_factory=list)
    schedulers: list[tuple[list[int], float]] = field(default_factory=list)
    stage_start: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)


def _run(monkeypatch, model_config: ModelConfig, tc: TrainConfig, tmp_path) -> Record:
    rec = Record()
    real_epoch = train_module._run_epoch
    real_losses = train_module.compute_losses
    real_clip = torch.nn.utils.clip_grad_norm_

    def run_epoch(model, optimizer, data, positions, spec, tc_, si, epoch):
        rec.epochs.append((spec.name, epoch, frozenset(positions.tolist()), model.psp.tau))
        if epoch == 0:
            rec.stage_start[spec.name] = {k: v.clone() for k, v in model.state_dict().items()}
        rec.steps.append(Step(spec.name, epoch))
        return real_epoch(model, optimizer, data, positions, spec, tc_, si, epoch)

    def losses(out, segment_labels, category, config, terms=("head", "avpsp")):
        parts = real_losses(out, segment_labels, category, config, terms)
        step = rec.steps[-1]
        step.terms, step.parts = tuple(terms), tuple(sorted(parts))
        step.labels = segment_labels.detach().clone()
        step.lambdas = (config.lambda1, config.lambda2, config.lambda3, config.lambda4)
        return parts

    def clip(parameters, max_norm, *args: Any, **kwargs: Any):
        params = [p for p in parameters if p.grad is not None]
        result = real_clip(params, max_norm, *args, **kwargs)
        after = torch.norm(torch.stack([p.grad.norm() for p in params])).item()
        rec.steps[-1].clips.append((float(max_norm), after))
        return result

    class Adam(torch.optim.Adam):
        def step(self, closure=None):  # type: ignore[override]
            rec.steps[-1].lrs.append(float(self.param_groups[0]["lr"]))
            return super().step(closure)

    class MultiStepLR(torch.optim.lr_scheduler.MultiStepLR):
        def __init__(self, optimizer, milestones, gamma=0.1, *args: Any, **kwargs: Any):
            rec.schedulers.append((sorted(milestones), float(gamma)))
            super().__init__(optimizer, milestones, gamma, *args, **kwargs)

    monkeypatch.setattr(train_module, "_run_epoch", run_epoch)
    monkeypatch.setattr(train_module, "compute_losses", losses)
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", clip)
    monkeypatch.setattr(torch.optim, "Adam", Adam)
    monkeypatch.setattr(torch.optim.lr_scheduler, "MultiStepLR", MultiStepLR)
    monkeypatch.setattr(train_module, "atomic_torch_save", lambda obj, path: path)  # no resume
    train(model_config, _data(), _data(2, seed=1), tmp_path, tc)
    return rec


@pytest.fixture(scope="module")
def fully() -> Record:
    """The default recipe, every epoch of it (one tiny batch per epoch)."""
    mp = pytest.MonkeyPatch()
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        try:
            return _run(mp, ModelConfig(n_categories=C), TrainConfig(), Path(tmp))
        finally:
            mp.undo()


def _by_stage(rec: Record) -> dict[str, list[Step]]:
    out: dict[str, list[Step]] = {}
    for s in rec.steps:
        out.setdefault(s.stage, []).append(s)
    return out


def test_fully_stages_and_epochs(fully: Record) -> None:
    stages = _by_stage(fully)
    assert list(stages) == ["psp", "psa_s", "psa_v"]
    assert {k: len(v) for k, v in stages.items()} == {"psp": 45, "psa_s": 10, "psa_v": 10}
    assert all(len(s.lrs) == 1 for s in fully.steps)  # one batch per epoch, one Adam step


def test_fully_loss_terms_per_stage(fully: Record) -> None:
    stages = _by_stage(fully)
    terms = {k: {s.terms for s in v} for k, v in stages.items()}
    assert terms == {
        "psp": {("head", "avpsp")},
        "psa_s": {("head", "avpsp", "spsa")},
        "psa_v": {("head", "avpsp", "spsa", "vpsa")},
    }
    parts = {k: {s.parts for s in v} for k, v in stages.items()}
    assert parts["psa_v"] == {("avpsp", "category_ce", "event_bce", "spsa", "total", "vpsa")}
    assert all(s.lambdas == (100.0, 0.01, 1.0, 0.005) for s in fully.steps)


def test_fully_data_subset_per_stage(fully: Record) -> None:
    ae, bg, everything = frozenset(range(N_AE)), frozenset(range(N_AE, 8)), frozenset(range(8))
    subsets = {name: {pos for n, _, pos, _ in fully.epochs if n == name} for name in
               ("psp", "psa_s", "psa_v")}  # fmt: skip
    assert subsets == {"psp": {everything}, "psa_s": {bg}, "psa_v": {ae}}
    for s in fully.steps:  # and the batches the losses saw
        assert s.labels is not None
        has_bg = (s.labels == C).any(dim=1)
        if s.stage == "psa_s":
            assert has_bg.all() and len(s.labels) == 4
        elif s.stage == "psa_v":
            assert not has_bg.any() and len(s.labels) == 4
        else:
            assert len(s.labels) == 8


def test_fully_learning_rates_and_schedule(fully: Record) -> None:
    stages = _by_stage(fully)
    psp = [s.lrs[0] for s in stages["psp"]]
    expected = [1e-3] * 10 + [5e-4] * 10 + [2.5e-4] * 10 + [1.25e-4] * 15
    assert psp == pytest.approx(expected, rel=1e-9)
    assert [s.lrs[0] for s in stages["psa_s"]] == pytest.approx([1e-4] * 10, rel=1e-12)
    assert [s.lrs[0] for s in stages["psa_v"]] == pytest.approx([1e-5] * 10, rel=1e-12)
    assert fully.schedulers == [([10, 20, 30], 0.5), ([], 0.5), ([], 0.5)]


def test_fully_gradient_clipping(fully: Record) -> None:
    for s in fully.steps:
        assert len(s.clips) == 1
        max_norm, after = s.clips[0]
        assert max_norm == 0.1 and after <= 0.1 + 1e-5


def test_fully_tau(fully: Record) -> None:
    assert {tau for *_, tau in fully.epochs} == {0.099}


def test_fully_short_recipe(monkeypatch, tmp_path) -> None:
    """The same per-stage facts on a short run (seconds): terms, subsets, lr, clipping, tau."""
    tc = TrainConfig(psp_epochs=2, psa_s_epochs=1, psa_v_epochs=1)
    rec = _run(monkeypatch, ModelConfig(n_categories=C), tc, tmp_path)
    steps = {s.stage: s for s in rec.steps}
    assert [s.stage for s in rec.steps] == ["psp", "psp", "psa_s", "psa_v"]
    assert {k: s.terms for k, s in steps.items()} == {
        "psp": ("head", "avpsp"),
        "psa_s": ("head", "avpsp", "spsa"),
        "psa_v": ("head", "avpsp", "spsa", "vpsa"),
    }
    subsets = {n: pos for n, _, pos, _ in rec.epochs}
    assert subsets == {"psp": frozenset(range(8)), "psa_s": frozenset(range(N_AE, 8)),
                       "psa_v": frozenset(range(N_AE))}  # fmt: skip
    assert {k: s.lrs for k, s in steps.items()} == {"psp": [1e-3], "psa_s": [1e-4],
                                                    "psa_v": [1e-5]}  # fmt: skip
    assert rec.schedulers == [([10, 20, 30], 0.5), ([], 0.5), ([], 0.5)]
    assert all(len(s.clips) == 1 and s.clips[0][0] == 0.1 for s in rec.steps)
    assert all(s.clips[0][1] <= 0.1 + 1e-5 for s in rec.steps)
    assert {tau for *_, tau in rec.epochs} == {0.099}
    assert all(s.lambdas == (100.0, 0.01, 1.0, 0.005) for s in rec.steps)
    # each stage starts from the best checkpoint of the stage before (Table 5 "Init")
    for stage, prev in (("psa_s", "psp"), ("psa_v", "psa_s")):
        best = load_checkpoint(tmp_path / f"best-{prev}.pt")[0].state_dict()
        start = rec.stage_start[stage]
        assert all(torch.equal(start[k], best[k]) for k in best), stage


def test_weakly_recipe(monkeypatch, tmp_path) -> None:
    tc = TrainConfig(psp_epochs=6, psa_s_epochs=3, psa_v_epochs=2)
    rec = _run(monkeypatch, ModelConfig(n_categories=C, setting="weakly"), tc, tmp_path)
    stages = _by_stage(rec)
    assert {k: len(v) for k, v in stages.items()} == {"psp": 6, "psa_v": 2}  # no PSA_S weakly
    assert rec.schedulers == [([5, 20, 40], 0.5), ([], 0.5)]  # the authors' weakly milestones
    assert [s.lrs[0] for s in stages["psp"]] == pytest.approx([1e-3] * 5 + [5e-4], rel=1e-9)
    assert [s.lrs[0] for s in stages["psa_v"]] == pytest.approx([1e-5] * 2, rel=1e-12)
    assert {s.parts for s in stages["psp"]} == {("total", "video_bce")}
    assert {s.parts for s in stages["psa_v"]} == {("total", "video_bce", "vpsa")}
    assert {tau for *_, tau in rec.epochs} == {0.095}
    assert {pos for n, _, pos, _ in rec.epochs if n == "psa_v"} == {frozenset(range(N_AE))}
    assert all(len(s.clips) == 1 and s.clips[0][0] == 0.1 for s in rec.steps)


def test_sspsp_only_after_stage_one(monkeypatch, tmp_path) -> None:
    tc = TrainConfig(psp_epochs=1, psa_s_epochs=1, psa_v_epochs=1)
    rec = _run(monkeypatch, ModelConfig(n_categories=C, sspsp=True), tc, tmp_path)
    parts = {s.stage: s.parts for s in rec.steps}
    assert "sspsp" not in parts["psp"]
    assert "sspsp" in parts["psa_s"] and "sspsp" in parts["psa_v"]


def test_config_defaults_are_the_papers() -> None:
    c = ModelConfig()
    assert (c.lambda1, c.lambda2, c.lambda3, c.lambda4) == (100.0, 0.01, 1.0, 0.005)
    assert (c.eta, c.k_negatives, c.theta, c.tau, c.dropout) == (0.1, 4, 0.6, 0.099, 0.1)
    assert (c.sspsp_eta, c.sspsp_weight) == (0.3, 0.01)
    assert ModelConfig(setting="weakly").tau == 0.095
    assert ModelConfig(setting="weakly", tau=0.2).tau == 0.2
    assert CPSPNet(ModelConfig(setting="weakly")).psp.tau == 0.095
    t = TrainConfig()
    assert (t.batch_size, t.psp_epochs, t.psa_s_epochs, t.psa_v_epochs) == (128, 45, 10, 10)
    assert (t.lr_psp, t.lr_psa_s, t.lr_psa_v, t.gamma, t.grad_clip) == (1e-3, 1e-4, 1e-5, 0.5, 0.1)


def _batch(setting: str) -> tuple[ModelConfig, Any, torch.Tensor, torch.Tensor]:
    torch.manual_seed(3)
    config = ModelConfig(n_categories=4, setting=setting)  # type: ignore[arg-type]
    model = CPSPNet(config).double().eval()
    b = 12  # 3 clips per category: every anchor has 9 other-category videos (> K = 4)
    out = model(
        audio=torch.randn(b, 10, 128, dtype=torch.float64),
        video=torch.rand(b, 10, 7, 7, 512, dtype=torch.float64),
    )
    category = torch.arange(b) % 4
    labels = category.view(-1, 1).repeat(1, 10)
    labels[::2, 6:] = 4  # half the clips with background (for L_spsa)
    return config, out, labels, category


def test_fully_total_is_eq_12_with_the_papers_constants() -> None:
    config, out, labels, category = _batch("fully")
    parts = compute_losses(out, labels, category, config, ("head", "avpsp", "spsa", "vpsa"))
    event = (labels != 4).double()
    spsa = _naive_spsa(out.fusion, event, 0.1)  # eta = 0.1
    vpsa = _naive_vpsa(out.fusion, category.tolist(), 4, 0.6)  # K = 4, theta = 0.6
    assert parts["spsa"].item() == pytest.approx(spsa, rel=1e-9)
    assert parts["vpsa"].item() == pytest.approx(vpsa, rel=1e-9)
    # the neighbouring values give other numbers, so the two checks above pin eta, K and theta
    assert abs(_naive_spsa(out.fusion, event, 0.6) - spsa) > 1e-3
    assert abs(_naive_vpsa(out.fusion, category.tolist(), 5, 0.6) - vpsa) > 1e-6
    avpsp = avpsp_loss(out.av_similarity, event).item()
    assert parts["avpsp"].item() == pytest.approx(avpsp, rel=1e-12)
    head = parts["event_bce"].item() + parts["category_ce"].item()
    total = head + 100.0 * avpsp + 0.01 * spsa + 1.0 * vpsa
    assert parts["total"].item() == pytest.approx(total, rel=1e-9)
    # the config's eta is the one used
    other = compute_losses(out, labels, category, config.replace(eta=0.3), ("head", "spsa"))
    assert other["spsa"].item() == pytest.approx(_naive_spsa(out.fusion, event, 0.3), rel=1e-9)


def test_weakly_total_is_eq_14_with_the_papers_constants() -> None:
    config, out, labels, category = _batch("weakly")
    parts = compute_losses(out, labels, category, config, ("head", "avpsp", "spsa", "vpsa"))
    assert set(parts) == {"video_bce", "vpsa", "total"}  # no segment labels weakly
    vpsa = _naive_vpsa(out.fusion, category.tolist(), 4, 0.6)
    assert parts["vpsa"].item() == pytest.approx(vpsa, rel=1e-9)
    total = parts["video_bce"].item() + 0.005 * vpsa
    assert parts["total"].item() == pytest.approx(total, rel=1e-9)
    assert math.isfinite(total)

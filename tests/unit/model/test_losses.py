"""Loss terms: Eq. 5 as written (with a non-zero gradient), Eq. 6 mining, heads, SSPSP."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from avel_annotate.model import CPSPNet, ModelConfig
from avel_annotate.model.losses import (
    compute_losses,
    spsa_loss,
    sspsp_loss,
    video_embeddings,
    vpsa_loss,
    weak_targets,
)


def _naive_spsa(f: torch.Tensor, event: torch.Tensor, eta: float) -> float:
    per_clip = []
    for b in range(f.shape[0]):
        ev = [t for t in range(f.shape[1]) if event[b, t]]
        bg = [t for t in range(f.shape[1]) if not event[b, t]]
        if not bg or len(ev) < 2:
            continue
        terms = []
        for i in ev:
            neg = sum(
                math.exp(F.cosine_similarity(f[b, i], f[b, k], dim=0).item() / eta) for k in bg
            ) / len(bg)
            for j in ev:
                if j == i:
                    continue
                pos = math.exp(F.cosine_similarity(f[b, i], f[b, j], dim=0).item() / eta)
                terms.append(-math.log(pos / (pos + neg)))
        per_clip.append(sum(terms) / len(terms))
    return sum(per_clip) / len(per_clip)


def test_spsa_matches_equation_5() -> None:
    torch.manual_seed(0)
    f = torch.randn(3, 10, 16, dtype=torch.float64)
    event = torch.zeros(3, 10)
    event[0, :4] = 1  # valid
    event[1, :] = 1  # no background: skipped
    event[2, 3] = 1  # one event segment: skipped
    got = spsa_loss(f, event, eta=0.1).item()
    assert got == pytest.approx(_naive_spsa(f, event, 0.1), rel=1e-10)


def test_spsa_gradient_is_nonzero() -> None:
    torch.manual_seed(1)
    f = torch.randn(2, 10, 32, requires_grad=True)
    event = torch.tensor([[1] * 5 + [0] * 5, [1, 1, 0, 0, 1, 1, 0, 0, 1, 0]], dtype=torch.float)
    spsa_loss(f, event, eta=0.1).backward()
    assert f.grad is not None
    assert f.grad.abs().sum() > 1e-6
    # through the network too: every PSP output weight receives gradient
    model = CPSPNet(ModelConfig(n_categories=3, dropout=0.0))
    out = model(audio=torch.randn(2, 10, 128), video=torch.rand(2, 10, 7, 7, 512))
    spsa_loss(out.fusion, event).backward()
    assert model.psp.v_out.weight.grad is not None
    assert model.psp.v_out.weight.grad.abs().sum() > 0


def test_spsa_without_valid_clips_is_zero_with_graph() -> None:
    f = torch.randn(2, 10, 8, requires_grad=True)
    loss = spsa_loss(f, torch.ones(2, 10))
    assert loss.item() == 0.0
    loss.backward()


def _naive_vpsa(f: torch.Tensor, cat: list[int], k: int, theta: float) -> float:
    emb = video_embeddings(f)
    losses = []
    for a in range(len(cat)):
        same = [j for j in range(len(cat)) if j != a and cat[j] == cat[a] and cat[a] >= 0]
        other = [j for j in range(len(cat)) if cat[j] != cat[a] and cat[j] >= 0 and cat[a] >= 0]
        if not same or not other:
            continue
        dist = [(emb[a] - emb[j]).norm().item() for j in range(len(cat))]
        pos = max(dist[j] for j in same)
        negs = sorted(dist[j] for j in other)[:k]
        losses.append(max(0.0, pos - sum(negs) / len(negs) + theta))
    return sum(losses) / len(losses)


@pytest.mark.parametrize("k", [1, 2, 4, 10])
def test_vpsa_hardest_positive_k_nearest_negatives(k: int) -> None:
    torch.manual_seed(2)
    f = torch.randn(8, 10, 16, dtype=torch.float64)
    cat = [0, 0, 1, 1, 1, 2, 3, -1]  # 2 and 3 have no positive: skipped; -1 takes no part
    got = vpsa_loss(f, torch.tensor(cat), k=k, theta=0.6).item()
    assert got == pytest.approx(_naive_vpsa(f, cat, k, 0.6), rel=1e-10)


def test_vpsa_no_triplets_is_zero_and_gradient_flows() -> None:
    f = torch.randn(3, 10, 8, requires_grad=True)
    assert vpsa_loss(f, torch.tensor([0, 1, 2])).item() == 0.0
    f2 = torch.randn(4, 10, 8, requires_grad=True)
    vpsa_loss(f2, torch.tensor([0, 0, 1, 1]), theta=5.0).backward()
    assert torch.isfinite(f2.grad).all() and f2.grad.abs().sum() > 0


def test_sspsp_prefers_synchronised_pairs() -> None:
    torch.manual_seed(3)
    a = torch.randn(2, 10, 16)
    assert sspsp_loss(a, a, eta=0.3) < sspsp_loss(torch.randn(2, 10, 16), a, eta=0.3)


def test_weak_targets_are_shares() -> None:
    labels = torch.tensor([[0, 0, 2, 2, 2, 2, 2, 2, 2, 2]])
    target = weak_targets(labels, 2)
    torch.testing.assert_close(target, torch.tensor([[0.2, 0.0, 0.8]]))


@pytest.mark.parametrize("head", ["event-category", "paper"])
@pytest.mark.parametrize("setting", ["fully", "weakly"])
def test_compute_losses_all_heads(head: str, setting: str) -> None:
    torch.manual_seed(4)
    config = ModelConfig(n_categories=3, head=head, setting=setting, sspsp=True)  # type: ignore[arg-type]
    model = CPSPNet(config)
    out = model(audio=torch.randn(4, 10, 128), video=torch.rand(4, 10, 7, 7, 512))
    labels = torch.tensor([[0] * 10, [0] * 5 + [3] * 5, [1] * 10, [1] * 3 + [3] * 7])
    category = torch.tensor([0, 0, 1, 1])
    assert "sspsp" not in compute_losses(
        out, labels, category, config, ("head",)
    )  # trainer adds it
    parts = compute_losses(
        out, labels, category, config, ("head", "avpsp", "spsa", "vpsa", "sspsp")
    )
    assert ("avpsp" in parts) == (setting == "fully")
    assert ("spsa" in parts) == (setting == "fully")
    assert "vpsa" in parts and "sspsp" in parts
    assert torch.isfinite(parts["total"])
    parts["total"].backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)

"""Losses of the paper (Sec. 4.3-4.4, Eq. 5-15) and of the authors' event-category head.

Labels: ``segment_labels [B, T]`` int64 with C = background; ``category [B]`` int64, the clip's
event category (-1 when a clip has no event segment). Where the authors' code departs from the
paper, the docstring says which one is followed.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor

from avel_annotate.model.config import ModelConfig
from avel_annotate.model.network import CPSPOutput

TERMS: tuple[str, ...] = ("head", "avpsp", "spsa", "vpsa", "sspsp")


def _zero_like(x: Tensor) -> Tensor:
    """A zero that keeps the graph, so ``total.backward()`` works when a term has no samples."""
    return x.sum() * 0.0


def avpsp_loss(av_similarity: Tensor, event_mask: Tensor) -> Tensor:
    """L_avpsp (Eq. 9-10) as the authors compute it.

    ``s_t = relu(cos_t)`` normalised to sum 1 over T (eps 1e-8), target ``g_t = e_t / (sum e +
    1e-6)``, mean squared error over B x T.
    """
    s = F.relu(av_similarity)
    s = s / (s.sum(dim=1, keepdim=True) + 1e-8)
    g = event_mask / (event_mask.sum(dim=1, keepdim=True) + 1e-6)
    return F.mse_loss(s, g)


def spsa_loss(fusion: Tensor, event_mask: Tensor, eta: float = 0.1) -> Tensor:
    """L_spsa, Eq. 5 as written (the authors' released version sums over the wrong axis).

    Per clip: every event segment i is an anchor, every other event segment j a positive, the
    clip's background segments k the negatives:
    ``-log( e^{s_ij/eta} / (e^{s_ij/eta} + mean_k e^{s_ik/eta}) )`` with cosine s, averaged over
    (i, j) pairs, then over clips. Clips with no background or fewer than two event segments
    contribute nothing; if no clip qualifies the loss is 0 (graph kept).
    """
    f = F.normalize(fusion, dim=-1)
    sim = torch.bmm(f, f.transpose(1, 2)) / eta  # [B, T, T]
    event = event_mask > 0.5
    background = ~event
    n_bg = background.sum(dim=1)  # [B]
    n_ev = event.sum(dim=1)
    valid = (n_bg >= 1) & (n_ev >= 2)
    if not bool(valid.any()):
        return _zero_like(fusion)
    neg_fill = torch.finfo(sim.dtype).min
    neg = sim.masked_fill(~background.unsqueeze(1), neg_fill)
    # log of the mean over negatives: logsumexp - log N_bg   -> [B, T]
    log_neg = torch.logsumexp(neg, dim=2) - torch.log(n_bg.clamp_min(1).to(sim.dtype)).unsqueeze(1)
    # -log(a / (a + b)) = softplus(log b - log a)
    pair_loss = F.softplus(log_neg.unsqueeze(2) - sim)  # [B, anchor i, positive j]
    eye = torch.eye(sim.shape[1], dtype=torch.bool, device=sim.device).unsqueeze(0)
    pairs = event.unsqueeze(2) & event.unsqueeze(1) & ~eye & valid.view(-1, 1, 1)
    per_clip = (pair_loss * pairs).sum(dim=(1, 2)) / pairs.sum(dim=(1, 2)).clamp_min(1)
    return per_clip[valid].mean()


def video_embeddings(fusion: Tensor) -> Tensor:
    """Video vector of Eq. 6: mean over T of the l2-normalised segment features."""
    return F.normalize(fusion, dim=-1).mean(dim=1)


def vpsa_loss(fusion: Tensor, category: Tensor, k: int = 4, theta: float = 0.6) -> Tensor:
    """L_vpsa, Eq. 6: hardest (farthest) same-category positive, K nearest negatives, margin.

    Anchors without another same-category video in the batch, or without any other-category
    video, are skipped (there is no triplet to form); with fewer than K negatives all of them
    are used. Clips with category < 0 take no part. Mean over the remaining anchors.
    """
    emb = video_embeddings(fusion)
    sq = (emb.unsqueeze(1) - emb.unsqueeze(0)).pow(2).sum(dim=-1)
    dist = sq.clamp_min(1e-12).sqrt()  # [B, B]; clamp keeps the diagonal's gradient finite
    labelled = category >= 0
    same = (category.unsqueeze(1) == category.unsqueeze(0)) & labelled.unsqueeze(1)
    same &= labelled.unsqueeze(0)
    same &= ~torch.eye(len(category), dtype=torch.bool, device=category.device)
    other = (category.unsqueeze(1) != category.unsqueeze(0)) & labelled.unsqueeze(1)
    other &= labelled.unsqueeze(0)
    valid = same.any(dim=1) & other.any(dim=1)
    if not bool(valid.any()):
        return _zero_like(fusion)
    pos = dist.masked_fill(~same, float("-inf")).max(dim=1).values
    n_other = other.sum(dim=1)
    k_eff = min(k, int(n_other[valid].max()))
    near = dist.masked_fill(~other, float("inf")).topk(k_eff, dim=1, largest=False)
    taken = torch.isfinite(near.values)
    neg_mean = near.values.masked_fill(~taken, 0.0).sum(dim=1) / taken.sum(dim=1).clamp_min(1)
    return F.relu(pos - neg_mean + theta)[valid].mean()


def sspsp_loss(v_psp: Tensor, a_psp: Tensor, eta: float = 0.3) -> Tensor:
    """L_ss of Eq. 15: InfoNCE over all B x T segments, synchronised (a_i, v_i) the positive.

    The paper prints eta in the numerator and eta' in the denominator; one temperature eta' is
    used for both (the usual InfoNCE).
    """
    a = F.normalize(a_psp.reshape(-1, a_psp.shape[-1]), dim=-1)
    v = F.normalize(v_psp.reshape(-1, v_psp.shape[-1]), dim=-1)
    logits = a @ v.T / eta
    return F.cross_entropy(logits, torch.arange(len(a), device=a.device))


def weak_targets(segment_labels: Tensor, n_categories: int) -> Tensor:
    """Y^weak (Sec. 3): per-class share of segments, including background -> ``[B, C+1]``."""
    one_hot = F.one_hot(segment_labels, n_categories + 1)
    return one_hot.to(torch.get_default_dtype()).mean(dim=1)


def head_loss(
    output: CPSPOutput, segment_labels: Tensor, category: Tensor, config: ModelConfig
) -> dict[str, Tensor]:
    """Classification losses of the configured head and setting (names -> unweighted values)."""
    c = config.n_categories
    if config.head == "event-category":
        assert output.event_logits is not None and output.category_logits is not None
        if config.setting == "fully":
            event = (segment_labels != c).to(output.event_logits.dtype)
            return {
                "event_bce": F.binary_cross_entropy_with_logits(output.event_logits, event),
                "category_ce": _category_ce(output.category_logits, category),
            }
        assert output.video_logits is not None
        has = category >= 0
        target = F.one_hot(category.clamp_min(0), c).to(output.video_logits.dtype)
        prob = torch.softmax(output.video_logits, dim=-1)
        if not bool(has.any()):
            return {_weak_name(config): _zero_like(prob)}
        return {_weak_name(config): weak_head_loss(prob[has], target[has], config.weak_loss)}
    assert output.segment_logits is not None
    if config.setting == "fully":
        logits = output.segment_logits.reshape(-1, c + 1)
        return {"segment_ce": F.cross_entropy(logits, segment_labels.reshape(-1))}
    assert output.video_logits is not None
    prob = torch.softmax(output.video_logits, dim=-1)
    target = weak_targets(segment_labels, c).to(prob.dtype)
    return {_weak_name(config): weak_head_loss(prob, target, config.weak_loss)}


def _weak_name(config: ModelConfig) -> str:
    return "video_bce" if config.weak_loss == "bce" else "video_mlsm"


def weak_head_loss(prob: Tensor, target: Tensor, kind: str = "bce") -> Tensor:
    """The weakly head loss on the softmax output: ``bce`` (paper Eq. 13) or
    ``multilabel-soft-margin`` (the authors' weakly script: MultiLabelSoftMarginLoss applied to
    the softmax probabilities, whose gradient is much smaller)."""
    if kind == "bce":
        return F.binary_cross_entropy(prob, target)
    if kind == "multilabel-soft-margin":
        return F.multilabel_soft_margin_loss(prob, target)
    raise ValueError(f"unknown weak loss {kind!r}")


def _category_ce(logits: Tensor, category: Tensor) -> Tensor:
    if not bool((category >= 0).any()):
        return _zero_like(logits)
    return F.cross_entropy(logits, category, ignore_index=-1)


def compute_losses(
    output: CPSPOutput,
    segment_labels: Tensor,
    category: Tensor,
    config: ModelConfig,
    terms: Iterable[str] = ("head", "avpsp"),
) -> dict[str, Tensor]:
    """All requested loss terms (unweighted) plus ``total``, weighted per Eq. 11, 12, 14, 15.

    ``avpsp`` and ``spsa`` need segment labels and are dropped in the weakly setting; ``vpsa``
    is weighted by lambda3 (fully) or lambda4 (weakly); ``sspsp`` only when asked for in
    ``terms`` (the trainer adds it to the stages after the first when ``config.sspsp``).
    """
    terms = set(terms)
    unknown = terms - set(TERMS)
    if unknown:
        raise ValueError(f"unknown loss terms {sorted(unknown)}; known: {TERMS}")
    fully = config.setting == "fully"
    event = (segment_labels != config.n_categories).to(output.fusion.dtype)
    parts: dict[str, Tensor] = {}
    total = _zero_like(output.fusion)
    if "head" in terms:
        for name, value in head_loss(output, segment_labels, category, config).items():
            parts[name] = value
            total = total + value
    if "avpsp" in terms and fully:
        parts["avpsp"] = avpsp_loss(output.av_similarity, event)
        total = total + config.lambda1 * parts["avpsp"]
    if "spsa" in terms and fully:
        parts["spsa"] = spsa_loss(output.fusion, event, config.eta)
        total = total + config.lambda2 * parts["spsa"]
    if "vpsa" in terms:
        parts["vpsa"] = vpsa_loss(output.fusion, category, config.k_negatives, config.theta)
        total = total + (config.lambda3 if fully else config.lambda4) * parts["vpsa"]
    if "sspsp" in terms:
        parts["sspsp"] = sspsp_loss(output.v_psp, output.a_psp, config.sspsp_eta)
        total = total + config.sspsp_weight * parts["sspsp"]
    parts["total"] = total
    return parts

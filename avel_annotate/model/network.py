"""The CPSP network (paper Sec. 4; trunk as in the authors' code). No I/O in this file.

Shapes: B clips, T = 10 one-second segments, audio ``[B, T, 128]`` (VGGish), visual
``[B, T, 7, 7, 512]`` (VGG-19 pool5, channels last). C event categories, label C = background.

Trunk: audio/visual projections -> audio-guided visual attention (AVGA) -> one BiLSTM per
modality -> positive sample propagation (PSP, Sec. 4.2) -> shared LayerNorm fusion (Eq. 4).
Heads: ``event-category`` (the authors' CPSP code) or ``paper`` (Eq. 7-8).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from avel_annotate.model.config import ModelConfig


@dataclass
class CPSPOutput:
    """What ``CPSPNet.forward`` returns. Fields a head does not produce are ``None``."""

    fusion: Tensor  # [B, T, 256], f of Eq. 4
    av_similarity: Tensor  # [B, T], cosine(v_psp[t], a_psp[t])
    v_psp: Tensor  # [B, T, 256] after the shared LayerNorm
    a_psp: Tensor  # [B, T, 256] after the shared LayerNorm
    event_logits: Tensor | None = None  # [B, T] (event-category head)
    category_logits: Tensor | None = None  # [B, C] (event-category head)
    segment_logits: Tensor | None = None  # [B, T, C+1] (paper head)
    video_logits: Tensor | None = None  # weakly: [B, C] event-category, [B, C+1] paper head
    segment_weights: Tensor | None = None  # [B, T], phi of Eq. 7 (paper head, weakly)


@dataclass
class Prediction:
    """Per-second event probabilities, clip category probabilities, segment labels."""

    event_prob: Tensor  # [B, T]
    category_prob: Tensor  # [B, C]
    segment_labels: Tensor  # [B, T] int64, C = background


def _mlp2(d_in: int, d_hidden: int, d_out: int) -> nn.Sequential:
    """Two bias-free linear maps with no activation between (the authors' fa / fv)."""
    return nn.Sequential(
        nn.Linear(d_in, d_hidden, bias=False), nn.Linear(d_hidden, d_out, bias=False)
    )


class AudioGuidedAttention(nn.Module):
    """AVGA: attend over the 49 regions of a segment's visual map, guided by its audio."""

    def __init__(self, audio_dim: int, visual_dim: int, n_regions: int) -> None:
        super().__init__()
        self.region_hidden = nn.Linear(visual_dim, visual_dim)
        self.audio_hidden = nn.Linear(audio_dim, visual_dim)
        self.region_score = nn.Linear(visual_dim, n_regions, bias=False)
        self.audio_score = nn.Linear(visual_dim, n_regions, bias=False)
        self.attend = nn.Linear(n_regions, 1, bias=False)

    def forward(self, audio: Tensor, regions: Tensor) -> Tensor:
        """audio ``[N, A]``, regions ``[N, R, V]`` -> attended visual ``[N, V]``."""
        h_v = F.relu(self.region_hidden(regions))  # [N, R, V]
        h_a = F.relu(self.audio_hidden(audio))  # [N, V]
        # The audio term is an R-vector added per region: region r gets its r-th entry on
        # all of its R hidden units (the authors' broadcast, kept for checkpoint parity).
        hidden = self.region_score(h_v) + self.audio_score(h_a).unsqueeze(-1)  # [N, R, R]
        z = self.attend(torch.tanh(hidden)).squeeze(-1)  # [N, R]
        alpha = torch.softmax(z, dim=-1)
        return torch.bmm(alpha.unsqueeze(1), regions).squeeze(1)  # raw regions, weighted


def _normalise_rows(x: Tensor) -> Tensor:
    return x / (x.sum(dim=-1, keepdim=True) + 1e-8)


def prune_connections(beta: Tensor, tau: float) -> Tensor:
    """Eq. 2 as the authors compute it: l1-normalise rows, keep entries > tau, renormalise."""
    beta = _normalise_rows(beta)
    beta = beta * (beta > tau).to(beta.dtype)
    return _normalise_rows(beta)


class PositiveSamplePropagation(nn.Module):
    """PSP (Sec. 4.2) and the fusion of Eq. 4.

    Key/value naming: ``v_key`` = W1^v, ``a_key`` = W1^a (Eq. 1), ``v_value`` = W2^v,
    ``a_value`` = W2^a (Eq. 3), ``v_out`` = W3^v, ``a_out`` = W3^a (Eq. 4).
    """

    def __init__(self, dim: int, tau: float, dropout: float) -> None:
        super().__init__()
        self.tau = tau
        self.scale = 1.0 / math.sqrt(dim)
        self.v_key = nn.Linear(dim, dim, bias=False)
        self.a_key = nn.Linear(dim, dim, bias=False)
        self.v_value = nn.Linear(dim, dim, bias=False)
        self.a_value = nn.Linear(dim, dim, bias=False)
        self.v_out = nn.Linear(dim, dim, bias=False)
        self.a_out = nn.Linear(dim, dim, bias=False)
        self.norm = nn.LayerNorm(dim, eps=1e-6)  # one LayerNorm shared by both modalities
        self.dropout = nn.Dropout(dropout)

    def _branch(self, layer: nn.Linear, x: Tensor) -> Tensor:
        return self.dropout(F.relu(layer(x)))

    def forward(self, v: Tensor, a: Tensor) -> tuple[Tensor, Tensor]:
        """v, a ``[B, T, D]`` -> v_psp, a_psp ``[B, T, D]`` (after the shared LayerNorm)."""
        v_val = self._branch(self.v_value, v)
        v_key = self._branch(self.v_key, v)
        a_key = self._branch(self.a_key, a)
        a_val = self._branch(self.a_value, a)
        beta_va = F.relu(torch.bmm(v_key, a_key.transpose(1, 2)) * self.scale)  # [B, Tv, Ta]
        gamma_va = prune_connections(beta_va, self.tau)
        gamma_av = prune_connections(beta_va.transpose(1, 2), self.tau)
        v_psp = v + torch.bmm(gamma_va, a_val)
        a_psp = a + torch.bmm(gamma_av, v_val)
        v_psp = self.norm(self._branch(self.v_out, v_psp))
        a_psp = self.norm(self._branch(self.a_out, a_psp))
        return v_psp, a_psp


class EventCategoryHead(nn.Module):
    """Per-second event logit and one clip category from the time-averaged fusion."""

    def __init__(self, dim: int, n_categories: int) -> None:
        super().__init__()
        self.event = nn.Linear(dim, 1)
        self.category = nn.Linear(dim, n_categories)

    def forward(self, fusion: Tensor) -> tuple[Tensor, Tensor]:
        return self.event(fusion).squeeze(-1), self.category(fusion.mean(dim=1))


class PaperHead(nn.Module):
    """Eq. 8 classifier over C+1 classes per segment; weakly adds the Eq. 7 weighting branch.

    The weakly branch reuses the fully classifier's two layers (with its ReLU) as f^h and adds
    ``weight`` = W6 (C+1 -> 1) whose sigmoid weighs the segments before the temporal mean.
    """

    def __init__(self, dim: int, hidden: int, n_classes: int, weakly: bool) -> None:
        super().__init__()
        self.hidden = nn.Linear(dim, hidden, bias=False)
        self.out = nn.Linear(hidden, n_classes, bias=False)
        self.weight = nn.Linear(n_classes, 1, bias=False) if weakly else None  # W6, Eq. 7

    def forward(self, fusion: Tensor) -> tuple[Tensor, Tensor | None, Tensor | None]:
        logits = self.out(F.relu(self.hidden(fusion)))  # [B, T, C+1]
        if self.weight is None:
            return logits, None, None
        phi = torch.sigmoid(self.weight(logits)).squeeze(-1)  # [B, T]
        video = (logits * phi.unsqueeze(-1)).mean(dim=1)  # [B, C+1], softmax gives o^weak
        return logits, video, phi


class CPSPNet(nn.Module):
    """CPSP localisation network built from a ``ModelConfig``."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.audio_proj = _mlp2(c.audio_dim, c.proj_hidden, c.lstm_hidden)
        self.visual_proj = _mlp2(c.visual_dim, c.proj_hidden, c.lstm_hidden)
        self.avga = AudioGuidedAttention(c.lstm_hidden, c.visual_dim, c.n_regions)
        self.lstm_audio = nn.LSTM(
            c.lstm_hidden, c.lstm_hidden, batch_first=True, bidirectional=True
        )
        self.lstm_visual = nn.LSTM(
            c.lstm_hidden, c.lstm_hidden, batch_first=True, bidirectional=True
        )
        self.psp = PositiveSamplePropagation(c.fusion_dim, c.tau, c.dropout)
        self.head: EventCategoryHead | PaperHead
        if c.head == "event-category":
            self.head = EventCategoryHead(c.fusion_dim, c.n_categories)
        else:
            self.head = PaperHead(
                c.fusion_dim, c.head_hidden, c.n_categories + 1, weakly=c.setting == "weakly"
            )

    def encode(self, audio: Tensor, video: Tensor) -> tuple[Tensor, Tensor]:
        """Features -> BiLSTM outputs ``(v, a)``, each ``[B, T, 256]``."""
        b, t = audio.shape[:2]
        a = self.audio_proj(audio)  # [B, T, 128]
        regions = video.reshape(b * t, -1, video.shape[-1])  # [B*T, 49, 512]
        attended = self.avga(a.reshape(b * t, -1), regions).reshape(b, t, -1)
        v = self.visual_proj(attended)
        a_seq, _ = self.lstm_audio(a)
        v_seq, _ = self.lstm_visual(v)
        return v_seq, a_seq

    def forward(self, audio: Tensor, video: Tensor) -> CPSPOutput:
        v, a = self.encode(audio, video)
        v_psp, a_psp = self.psp(v, a)
        fusion = 0.5 * (v_psp + a_psp)
        out = CPSPOutput(
            fusion=fusion,
            av_similarity=F.cosine_similarity(v_psp, a_psp, dim=-1),
            v_psp=v_psp,
            a_psp=a_psp,
        )
        if isinstance(self.head, EventCategoryHead):
            out.event_logits, out.category_logits = self.head(fusion)
            if self.config.setting == "weakly":
                out.video_logits = weak_video_logits(out.event_logits, out.category_logits)
        else:
            out.segment_logits, out.video_logits, out.segment_weights = self.head(fusion)
        return out


def weak_video_logits(event_logits: Tensor, category_logits: Tensor) -> Tensor:
    """Authors' weakly pooling: ``max_t sigmoid(event_t) * category``; softmax gives the video."""
    scores = torch.sigmoid(event_logits).unsqueeze(-1) * category_logits.unsqueeze(1)
    return scores.max(dim=1).values  # [B, C]


def predict(output: CPSPOutput, config: ModelConfig, event_threshold: float = 0.5) -> Prediction:
    """Turn network outputs into per-second event probabilities, categories and segment labels.

    Event-category head: a second is an event when sigmoid(event) > threshold, and then carries
    the clip's argmax category. Paper head: per-segment argmax over C+1 classes; the event
    probability is 1 - P(background).
    """
    c = config.n_categories
    if output.event_logits is not None and output.category_logits is not None:
        event_prob = torch.sigmoid(output.event_logits)
        logits = output.video_logits if output.video_logits is not None else output.category_logits
        category_prob = torch.softmax(logits, dim=-1)
        category = category_prob.argmax(dim=-1, keepdim=True).expand_as(event_prob)
        labels = torch.where(event_prob > event_threshold, category, torch.full_like(category, c))
        return Prediction(event_prob, category_prob, labels)
    if output.segment_logits is None:
        raise ValueError("output carries neither event/category nor segment logits")
    seg_prob = torch.softmax(output.segment_logits, dim=-1)  # [B, T, C+1]
    event_prob = 1.0 - seg_prob[..., c]
    if output.video_logits is not None:
        mass = torch.softmax(output.video_logits, dim=-1)[..., :c]
    else:
        mass = seg_prob[..., :c].sum(dim=1)
    category_prob = mass / mass.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    return Prediction(event_prob, category_prob, seg_prob.argmax(dim=-1))

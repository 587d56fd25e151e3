"""The model config: one frozen dataclass builds the network and parametrises its losses.

Defaults are the paper's (Sec. 6.1, Tables 3-5) unless a comment says the authors' code differs.
A checkpoint stores ``config.to_dict()`` so loading rebuilds the architecture without guessing.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

from avel_annotate.errors import ModelError

Head = Literal["event-category", "paper"]
Setting = Literal["fully", "weakly"]

HEADS: tuple[str, ...] = ("event-category", "paper")
SETTINGS: tuple[str, ...] = ("fully", "weakly")
# weakly head loss on the softmax output: BCE (paper Eq. 13) or MultiLabelSoftMarginLoss (the
# authors' weakly script); see docs/model.md for the measurement that picked the default
WEAK_LOSSES: tuple[str, ...] = ("bce", "multilabel-soft-margin")

# tau: the paper's best is 0.095 for both settings (Table 3); the authors' scripts use 0.099 fully.
DEFAULT_TAU: dict[str, float] = {"fully": 0.099, "weakly": 0.095}


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and loss hyper-parameters of a CPSP model.

    ``n_categories`` is C, the number of event categories *without* background; segment label
    ``C`` means background. ``head`` picks the head family, ``setting`` the supervision.
    ``tau`` left unset (NaN) takes the setting's default, ``DEFAULT_TAU[setting]``.
    """

    n_categories: int = 28
    head: Head = "event-category"
    setting: Setting = "fully"
    tau: float = math.nan  # NaN: DEFAULT_TAU[setting] (0.099 fully, 0.095 weakly)
    dropout: float = 0.1
    # feature and hidden sizes (fixed by VGGish / VGG-19 pool5 and the authors' trunk)
    n_segments: int = 10
    audio_dim: int = 128
    visual_dim: int = 512
    n_regions: int = 49
    proj_hidden: int = 256
    lstm_hidden: int = 128
    head_hidden: int = 64
    # loss weights and hyper-parameters (paper Sec. 6.1)
    lambda1: float = 100.0  # L_avpsp, Eq. 11
    lambda2: float = 0.01  # L_spsa, Eq. 12
    lambda3: float = 1.0  # L_vpsa fully, Eq. 12
    lambda4: float = 0.005  # L_vpsa weakly, Eq. 14
    eta: float = 0.1  # temperature of L_spsa, Eq. 5
    k_negatives: int = 4  # K of L_vpsa, Eq. 6
    theta: float = 0.6  # margin of L_vpsa, Eq. 6
    weak_loss: str = "bce"  # weakly head loss, one of WEAK_LOSSES
    sspsp: bool = False  # add the self-supervised InfoNCE of Eq. 15 (stages after the first)
    sspsp_eta: float = 0.3  # eta' of Eq. 15
    sspsp_weight: float = 0.01  # lambda2' of Eq. 15

    def __post_init__(self) -> None:
        if math.isnan(self.tau) and self.setting in DEFAULT_TAU:
            object.__setattr__(self, "tau", DEFAULT_TAU[self.setting])
        problems: list[str] = []
        if self.n_categories < 1:
            problems.append(f"n_categories must be >= 1, got {self.n_categories}")
        if self.head not in HEADS:
            problems.append(f"head must be one of {HEADS}, got {self.head!r}")
        if self.setting not in SETTINGS:
            problems.append(f"setting must be one of {SETTINGS}, got {self.setting!r}")
        if not 0.0 <= self.dropout < 1.0:
            problems.append(f"dropout must be in [0, 1), got {self.dropout}")
        if self.weak_loss not in WEAK_LOSSES:
            problems.append(f"weak_loss must be one of {WEAK_LOSSES}, got {self.weak_loss!r}")
        if self.k_negatives < 1:
            problems.append(f"k_negatives must be >= 1, got {self.k_negatives}")
        if self.eta <= 0 or self.sspsp_eta <= 0:
            problems.append("temperatures eta and sspsp_eta must be > 0")
        if problems:
            raise ModelError(
                "invalid model config: " + "; ".join(problems),
                hint="fix the named fields of the model config",
            )

    @property
    def background(self) -> int:
        """The segment label that means background (the last class, index C)."""
        return self.n_categories

    @property
    def fusion_dim(self) -> int:
        return 2 * self.lstm_hidden

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ModelError(
                f"model config has unknown keys {unknown}",
                hint=f"a config may only hold {sorted(known)}; was it written by a newer version?",
            )
        try:
            return cls(**data)
        except TypeError as e:
            raise ModelError(f"bad model config: {e}", hint="check the config dict") from e

    def replace(self, **changes: Any) -> ModelConfig:
        return dataclasses.replace(self, **changes)

"""Import the authors' released checkpoints (plain state_dicts, keys prefixed ``module.``).

``load_official(state_dict_or_path, variant)`` maps the authors' key names onto ``CPSPNet``,
checks every key the forward pass needs (missing key or wrong shape -> ``ModelError`` naming the
key), infers C from the classifier, and returns the model in eval mode. Keys that exist in the
authors' files but play no part in the forward pass are accepted and ignored.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from avel_annotate.errors import ModelError
from avel_annotate.model.config import DEFAULT_TAU, ModelConfig
from avel_annotate.model.network import CPSPNet

logger = logging.getLogger(__name__)

VARIANTS: tuple[str, ...] = ("cpsp-fully", "cpsp-weakly", "psp-fully")

_LSTM_PARAMS = [
    f"{kind}_l0{suffix}"
    for suffix in ("", "_reverse")
    for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
]

# authors' name -> our name, for the trunk shared by all variants
_TRUNK: dict[str, str] = {
    "fa.0.weight": "audio_proj.0.weight",
    "fa.1.weight": "audio_proj.1.weight",
    "fv.0.weight": "visual_proj.0.weight",
    "fv.1.weight": "visual_proj.1.weight",
    "attention.affine_audio.weight": "avga.audio_hidden.weight",
    "attention.affine_audio.bias": "avga.audio_hidden.bias",
    "attention.affine_video.weight": "avga.region_hidden.weight",
    "attention.affine_video.bias": "avga.region_hidden.bias",
    "attention.affine_v.weight": "avga.region_score.weight",
    "attention.affine_g.weight": "avga.audio_score.weight",
    "attention.affine_h.weight": "avga.attend.weight",
    # Sec. 4.2: W1^v = v_L2, W1^a = a_L1, W2^a = a_L2, W2^v = v_L1, W3^v = v_fc, W3^a = a_fc
    "psp.v_L1.weight": "psp.v_value.weight",
    "psp.v_L2.weight": "psp.v_key.weight",
    "psp.a_L1.weight": "psp.a_key.weight",
    "psp.a_L2.weight": "psp.a_value.weight",
    "psp.v_fc.weight": "psp.v_out.weight",
    "psp.a_fc.weight": "psp.a_out.weight",
    "psp.layer_norm.weight": "psp.norm.weight",
    "psp.layer_norm.bias": "psp.norm.bias",
}
for _p in _LSTM_PARAMS:
    _TRUNK[f"lstm_a_v.lstm_audio.{_p}"] = f"lstm_audio.{_p}"
    _TRUNK[f"lstm_a_v.lstm_video.{_p}"] = f"lstm_visual.{_p}"

_CPSP_HEAD: dict[str, str] = {
    "event_classifier.0.weight": "head.event.weight",
    "event_classifier.0.bias": "head.event.bias",
    "category_classifier.0.weight": "head.category.weight",
    "category_classifier.0.bias": "head.category.bias",
}
_PSP_HEAD: dict[str, str] = {"L1.weight": "head.hidden.weight", "L2.weight": "head.out.weight"}

# present in the authors' files, unused by the forward pass of the variant
_UNUSED_PREFIXES: dict[str, tuple[str, ...]] = {
    "cpsp-fully": ("linear_v.", "v_classify.", "a_classify.", "L1.", "L2."),
    "cpsp-weakly": ("linear_v.", "v_classify.", "a_classify.", "L1.", "L2.", "L3.", "L4."),
    "psp-fully": ("linear_v.", "v_classify.", "a_classify.", "L3.", "L4."),
}


def official_key_map(variant: str) -> dict[str, str]:
    """The authors' key names (without ``module.``) the variant needs -> our parameter names."""
    _check_variant(variant)
    head = _PSP_HEAD if variant == "psp-fully" else _CPSP_HEAD
    return {**_TRUNK, **head}


def official_config(variant: str, n_categories: int = 28, tau: float | None = None) -> ModelConfig:
    """The ``ModelConfig`` that reproduces a variant of the authors' code."""
    _check_variant(variant)
    weakly = variant.endswith("weakly")
    return ModelConfig(
        n_categories=n_categories,
        head="paper" if variant.startswith("psp") else "event-category",
        setting="weakly" if weakly else "fully",
        tau=DEFAULT_TAU["weakly" if weakly else "fully"] if tau is None else tau,
    )


def official_shapes(variant: str, n_categories: int = 28) -> dict[str, tuple[int, ...]]:
    """Expected shapes of the keys the variant needs (authors' names, without ``module.``)."""
    model = CPSPNet(official_config(variant, n_categories))
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    return {theirs: ours[mine] for theirs, mine in official_key_map(variant).items()}


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ModelError(
            f"unknown official variant {variant!r}",
            hint=f"use one of {', '.join(VARIANTS)}",
        )


def _read(source: Mapping[str, Any] | str | Path) -> tuple[dict[str, Any], str]:
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise ModelError(f"official checkpoint {path} does not exist", hint="check the path")
        try:
            loaded = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as e:  # a pickled whole model (the PSP PSP_fully.pt)
            raise ModelError(
                f"{path} is a pickled whole model, not a state_dict (this toolkit never unpickles "
                "code)",
                hint="with the authors' code importable, in Python: m = torch.load(path, "
                "map_location='cpu', weights_only=False); torch.save(m.state_dict(), "
                "'state_dict.pt') -- then load state_dict.pt",
            ) from e
        except Exception as e:  # torch raises many types for a bad file
            raise ModelError(
                f"cannot read official checkpoint {path}: {e}",
                hint="pass the authors' state_dict file (torch.save of model.state_dict())",
            ) from e
        where = str(path)
    else:
        loaded, where = source, "the given state_dict"
    if not isinstance(loaded, Mapping):
        raise ModelError(
            f"{where} holds a {type(loaded).__name__}, not a state_dict",
            hint="save the weights with torch.save(model.state_dict(), path)",
        )
    state = {str(k).removeprefix("module."): v for k, v in loaded.items()}
    return state, where


def _infer_categories(state: Mapping[str, Any], variant: str, where: str) -> int:
    key = "L2.weight" if variant == "psp-fully" else "category_classifier.0.weight"
    value = state.get(key)
    if not isinstance(value, Tensor) or value.dim() != 2:
        raise ModelError(
            f"{where} has no usable key {key!r} for variant {variant!r}",
            hint="is this the right variant? psp-fully needs L2.weight, cpsp-* need "
            "category_classifier.0.weight",
        )
    rows = int(value.shape[0])
    return rows - 1 if variant == "psp-fully" else rows


def load_official(
    state_dict_or_path: Mapping[str, Any] | str | Path,
    variant: str,
    *,
    tau: float | None = None,
    dtype: torch.dtype | None = None,
) -> CPSPNet:
    """Build our model from an authors' checkpoint; returns it in eval mode.

    ``dtype`` defaults to the checkpoint's floating dtype, so a float64 state_dict gives an
    exact float64 model (the model is built in that dtype before the weights are copied in).
    ``tau`` defaults to the authors' scripts: 0.099 fully, 0.095 weakly. The global random state
    is left as it was (building the model draws initial weights; that happens in a forked RNG).
    """
    with torch.random.fork_rng(devices=[]):
        return _load_official(state_dict_or_path, variant, tau=tau, dtype=dtype)


def _load_official(
    state_dict_or_path: Mapping[str, Any] | str | Path,
    variant: str,
    *,
    tau: float | None,
    dtype: torch.dtype | None,
) -> CPSPNet:
    _check_variant(variant)
    state, where = _read(state_dict_or_path)
    if variant == "psp-fully" and "event_classifier.0.weight" in state:
        # a CPSP file also holds (untrained) L1/L2 keys that would load without complaint
        raise ModelError(
            f"{where} holds a CPSP event-category head (event_classifier.*), not a PSP one",
            hint="load it with variant 'cpsp-fully' or 'cpsp-weakly'",
        )
    n_categories = _infer_categories(state, variant, where)
    config = official_config(variant, n_categories, tau)
    key_map = official_key_map(variant)
    expected = official_shapes(variant, n_categories)
    mapped: dict[str, Tensor] = {}
    for theirs, mine in key_map.items():
        if theirs not in state:
            raise ModelError(
                f"{where} is missing key {theirs!r} needed by variant {variant!r}",
                hint="pass the full state_dict of the matching variant of the authors' code",
            )
        value = state[theirs]
        if not isinstance(value, Tensor):
            raise ModelError(f"{where}: key {theirs!r} is not a tensor", hint="re-save it")
        if tuple(value.shape) != expected[theirs]:
            raise ModelError(
                f"{where}: key {theirs!r} has shape {tuple(value.shape)}, expected "
                f"{expected[theirs]} for variant {variant!r} with C={n_categories}",
                hint="check the variant and that the checkpoint is not truncated",
            )
        mapped[mine] = value
    unused = _UNUSED_PREFIXES[variant]
    unknown = sorted(k for k in state if k not in key_map and not k.startswith(unused))
    if unknown:
        logger.warning("%s: ignoring keys the %s model does not use: %s", where, variant, unknown)
    if dtype is None:
        floats = {v.dtype for v in mapped.values() if v.is_floating_point()}
        dtype = torch.float64 if floats == {torch.float64} else torch.float32
    model = CPSPNet(config).to(dtype)
    model.load_state_dict(mapped, strict=True)
    return model.eval()


def to_official_state_dict(model: CPSPNet, variant: str) -> dict[str, Tensor]:
    """Our weights under the authors' key names (``module.`` prefixed), for their code."""
    state = model.state_dict()
    return {f"module.{t}": state[m].detach().clone() for t, m in official_key_map(variant).items()}

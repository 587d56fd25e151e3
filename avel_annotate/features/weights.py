"""Find, hash and strictly load pretrained weights for the extractors.

No package on the index ships these weights, so they are resolved in this order: an explicit
path, then the torch hub cache (``$TORCH_HOME/hub/checkpoints/``, default
``~/.cache/torch/hub/checkpoints/``; torchaudio's VGGish also under ``hub/torchaudio/models/``),
else :class:`WeightsNotFoundError` names every path looked at and where the file comes from.

Loading is strict: every parameter of our module must come from the file with the right shape,
and the only keys allowed to be left over are the classifier heads we do not build.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from avel_annotate.errors import FeatureError, WeightsNotFoundError
from avel_annotate.features.vggish import PCAQuantize

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WeightsSpec:
    """What a model's weights file is called and where it comes from."""

    model: str
    file_names: tuple[str, ...]
    source: str


SPECS: dict[str, WeightsSpec] = {
    "vgg19": WeightsSpec(
        "vgg19",
        ("vgg19-dcbb9e9d.pth",),
        "torchvision: https://download.pytorch.org/models/vgg19-dcbb9e9d.pth "
        "(or a Caffe-converted VGG-19 in the same key layout, with --preprocessing caffe)",
    ),
    "resnet18": WeightsSpec(
        "resnet18",
        ("resnet18-f37072fd.pth",),
        "torchvision: https://download.pytorch.org/models/resnet18-f37072fd.pth",
    ),
    "vggish": WeightsSpec(
        "vggish",
        ("vggish-10086976.pth", "vggish.pt"),
        "torchvggish: https://github.com/harritaylor/torchvggish/releases/download/v0.1/"
        "vggish-10086976.pth, or torchaudio's prototype VGGISH bundle (models/vggish.pt)",
    ),
}


def hub_dir() -> Path:
    """The torch hub directory, read now (``$TORCH_HOME/hub`` or ``~/.cache/torch/hub``)."""
    return Path(torch.hub.get_dir())


def candidate_paths(model: str) -> list[Path]:
    """Cache paths looked at for ``model``, in order."""
    spec = SPECS[model]
    hub = hub_dir()
    paths = [hub / "checkpoints" / name for name in spec.file_names]
    if model == "vggish":
        paths.append(hub / "torchaudio" / "models" / "vggish.pt")
    return paths


def resolve_weights(model: str, explicit: str | Path | None = None) -> Path:
    """The weights file for ``model`` (``vgg19``, ``resnet18``, ``vggish``) or raise."""
    if model not in SPECS:
        raise FeatureError(f"no weights known for model {model!r}")
    spec = SPECS[model]
    if explicit is not None:
        path = Path(explicit).expanduser()
        if path.is_file():
            return path
        raise WeightsNotFoundError(
            f"{model} weights not found at {path}",
            hint=f"give an existing file: {' or '.join(spec.file_names)} from {spec.source}",
        )
    looked = candidate_paths(model)
    for path in looked:
        if path.is_file():
            return path
    raise WeightsNotFoundError(
        f"{model} weights not found; looked at {', '.join(str(p) for p in looked)}",
        hint=(
            f"download {' or '.join(spec.file_names)} from {spec.source} into "
            f"{hub_dir() / 'checkpoints'} (or pass --{model}-weights PATH), "
            "or pass --allow-random-weights for a smoke test only"
        ),
    )


def read_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from a ``.pth``/``.pt`` file (tensors only, ``weights_only`` loading)."""
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a bad file
        raise FeatureError(
            f"{path}: not a readable PyTorch checkpoint ({e})",
            hint="re-download the weights file",
        ) from e
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise FeatureError(f"{path}: expected a state dict of tensors", hint="check the file")
    return {str(k): v for k, v in obj.items()}


def load_strict(
    module: nn.Module,
    state: Mapping[str, torch.Tensor],
    path: str | Path,
    *,
    ignore_prefixes: tuple[str, ...] = (),
    optional_suffixes: tuple[str, ...] = ("num_batches_tracked",),
) -> None:
    """Copy ``state`` into ``module``; every module key must be present with the right shape.

    Keys of the file under ``ignore_prefixes`` (heads we do not build) are dropped; module keys
    ending in ``optional_suffixes`` (BatchNorm counters, absent from older files) may be missing.
    """
    own = module.state_dict()
    wanted = {k: v for k, v in state.items() if not k.startswith(ignore_prefixes)}
    missing = [k for k in own if k not in wanted and not k.endswith(optional_suffixes)]
    unexpected = [k for k in wanted if k not in own]
    wrong = [
        f"{k}: file {tuple(wanted[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in wanted and tuple(wanted[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or wrong:
        details = "; ".join(
            part
            for part in (
                f"missing {missing[:4]}{'...' if len(missing) > 4 else ''}" if missing else "",
                f"unexpected {unexpected[:4]}{'...' if len(unexpected) > 4 else ''}"
                if unexpected
                else "",
                f"shape {wrong[:2]}" if wrong else "",
            )
            if part
        )
        raise FeatureError(
            f"{path}: keys do not match {type(module).__name__} ({details})",
            hint="use the torchvision / torchvggish / torchaudio file named in docs/features.md",
        )
    module.load_state_dict(
        {k: v for k, v in wanted.items() if k in own}, strict=False
    )  # strictness checked above (only optional counters may be absent)


def load_visual(module: nn.Module, model: str, path: str | Path) -> None:
    """Load torchvision ``vgg19``/``resnet18`` weights; the classifier head is ignored."""
    state = read_checkpoint(path)
    heads = ("classifier.",) if model == "vgg19" else ("fc.",)
    load_strict(module, state, path, ignore_prefixes=heads)


_TORCHAUDIO_RENAMES = (("features_network.", "features."), ("embedding_network.", "embeddings."))


def vggish_layout(state: Mapping[str, torch.Tensor]) -> str:
    """``torchvggish`` or ``torchaudio`` from the key names (FeatureError if neither)."""
    keys = list(state)
    if keys and all(k.startswith(("features.", "embeddings.")) for k in keys):
        return "torchvggish"
    if keys and all(k.startswith(("features_network.", "embedding_network.")) for k in keys):
        return "torchaudio"
    return "unknown"


def load_vggish(module: nn.Module, path: str | Path) -> str:
    """Load torchvggish (``features.*``/``embeddings.*``) or torchaudio VGGish weights.

    Returns the layout found. torchaudio's ``features_network.N``/``embedding_network.N`` use the
    same indices as torchvggish, so a prefix rename maps one onto the other.
    """
    state = read_checkpoint(path)
    layout = vggish_layout(state)
    if layout == "unknown":
        raise FeatureError(
            f"{path}: not a VGGish checkpoint (keys start {sorted(state)[:3]})",
            hint="use torchvggish's vggish-10086976.pth or torchaudio's vggish.pt",
        )
    if layout == "torchaudio":
        renamed: dict[str, torch.Tensor] = {}
        for key, value in state.items():
            for old, new in _TORCHAUDIO_RENAMES:
                if key.startswith(old):
                    key = new + key[len(old) :]
            renamed[key] = value
        state = renamed
    load_strict(module, state, path, optional_suffixes=())
    return layout


def _load_pca_pickle(path: Path) -> Mapping[str, object]:
    """torchvggish's PCA file pickles numpy arrays; fall back to full unpickling for it only."""
    import pickle

    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        logger.warning("%s: holds numpy arrays; loading it with full unpickling", path)
        obj = torch.load(str(path), map_location="cpu", weights_only=False)
    if not isinstance(obj, Mapping):
        raise FeatureError(f"{path}: PCA params are not a mapping", hint="check the file")
    return obj


def load_pca(path: str | Path) -> PCAQuantize:
    """PCA post-processing params: torchvggish ``.pth`` or the TF ``vggish_pca_params.npz``."""
    path = Path(path)
    if not path.is_file():
        raise WeightsNotFoundError(
            f"PCA params not found at {path}",
            hint="torchvggish: https://github.com/harritaylor/torchvggish/releases/download/v0.1/"
            "vggish_pca_params-970ea276.pth",
        )
    try:
        if path.suffix == ".npz":
            import numpy as np

            with np.load(path, allow_pickle=False) as npz:
                vectors = torch.from_numpy(npz["pca_eigen_vectors"])
                means = torch.from_numpy(npz["pca_means"])
        else:
            obj = _load_pca_pickle(path)
            vectors = torch.as_tensor(obj["pca_eigen_vectors"])
            means = torch.as_tensor(obj["pca_means"])
        return PCAQuantize(vectors, means)
    except (KeyError, ValueError, OSError, RuntimeError) as e:
        raise FeatureError(
            f"{path}: bad PCA params ({e})",
            hint="expected keys pca_eigen_vectors [128,128] and pca_means [128]",
        ) from e


def seeded_random(module: nn.Module, seed: int = 0) -> nn.Module:
    """Re-initialise ``module`` deterministically (for --allow-random-weights)."""
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        for sub in module.modules():
            reset = getattr(sub, "reset_parameters", None)
            if callable(reset):
                reset()
    finally:
        torch.random.set_rng_state(generator_state)
    return module

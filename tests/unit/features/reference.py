"""Independent reference implementations for the feature tests.

Written from the published architectures (torchvision VGG-19 config "E", ResNet-18, VGGish) as
plain functional code over a state dict, sharing nothing with ``avel_annotate.features``: if the
product's module tree or key mapping were wrong, these would disagree with it.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# --- checkpoints in the published key layouts (random values) ----------------------------------

VGG19_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)
VGG19_POOL_AFTER = (2, 7, 16, 25, 34)  # conv indices followed (after ReLU) by a 2x2 max-pool
VGG19_CHANNELS = (64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512)


def vgg19_checkpoint(seed: int = 0) -> dict[str, torch.Tensor]:
    """torchvision ``vgg19-dcbb9e9d.pth`` layout: ``features.{i}.*`` plus a classifier head.

    The classifier tensors are kept tiny (the real ones are 400 MB); the loader must ignore them.
    """
    g = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    in_ch = 3
    for idx, out_ch in zip(VGG19_CONV_INDICES, VGG19_CHANNELS, strict=True):
        std = (2.0 / (in_ch * 9)) ** 0.5
        state[f"features.{idx}.weight"] = torch.randn(out_ch, in_ch, 3, 3, generator=g) * std
        state[f"features.{idx}.bias"] = torch.randn(out_ch, generator=g) * 0.01
        in_ch = out_ch
    for i in (0, 3, 6):
        state[f"classifier.{i}.weight"] = torch.randn(4, 4, generator=g)
        state[f"classifier.{i}.bias"] = torch.randn(4, generator=g)
    return state


def vgg19_reference(state: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    for idx in VGG19_CONV_INDICES:
        x = F.relu(
            F.conv2d(x, state[f"features.{idx}.weight"], state[f"features.{idx}.bias"], 1, 1)
        )
        if idx in VGG19_POOL_AFTER:
            x = F.max_pool2d(x, 2, 2)
    return x


def _bn(state: dict[str, torch.Tensor], prefix: str, x: torch.Tensor) -> torch.Tensor:
    return F.batch_norm(
        x,
        state[f"{prefix}.running_mean"],
        state[f"{prefix}.running_var"],
        state[f"{prefix}.weight"],
        state[f"{prefix}.bias"],
        training=False,
        eps=1e-5,
    )


def resnet18_checkpoint(seed: int = 0) -> dict[str, torch.Tensor]:
    """torchvision ``resnet18-f37072fd.pth`` layout (no ``num_batches_tracked``, with ``fc``)."""
    g = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}

    def conv(name: str, out_ch: int, in_ch: int, k: int) -> None:
        state[f"{name}.weight"] = (
            torch.randn(out_ch, in_ch, k, k, generator=g) * (2.0 / (in_ch * k * k)) ** 0.5
        )

    def bn(name: str, ch: int) -> None:
        state[f"{name}.weight"] = 1.0 + 0.1 * torch.randn(ch, generator=g)
        state[f"{name}.bias"] = 0.1 * torch.randn(ch, generator=g)
        state[f"{name}.running_mean"] = 0.1 * torch.randn(ch, generator=g)
        state[f"{name}.running_var"] = 0.5 + torch.rand(ch, generator=g)

    conv("conv1", 64, 3, 7)
    bn("bn1", 64)
    in_ch = 64
    for layer, out_ch in zip((1, 2, 3, 4), (64, 128, 256, 512), strict=True):
        for block in (0, 1):
            p = f"layer{layer}.{block}"
            cin = in_ch if block == 0 else out_ch
            conv(f"{p}.conv1", out_ch, cin, 3)
            bn(f"{p}.bn1", out_ch)
            conv(f"{p}.conv2", out_ch, out_ch, 3)
            bn(f"{p}.bn2", out_ch)
            if block == 0 and layer > 1:
                conv(f"{p}.downsample.0", out_ch, cin, 1)
                bn(f"{p}.downsample.1", out_ch)
        in_ch = out_ch
    state["fc.weight"] = torch.randn(1000, 512, generator=g) * 0.01
    state["fc.bias"] = torch.zeros(1000)
    return state


def resnet18_reference(state: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    x = F.relu(_bn(state, "bn1", F.conv2d(x, state["conv1.weight"], stride=2, padding=3)))
    x = F.max_pool2d(x, 3, 2, 1)
    for layer in (1, 2, 3, 4):
        for block in (0, 1):
            p = f"layer{layer}.{block}"
            stride = 2 if (block == 0 and layer > 1) else 1
            out = F.conv2d(x, state[f"{p}.conv1.weight"], stride=stride, padding=1)
            out = F.relu(_bn(state, f"{p}.bn1", out))
            out = _bn(state, f"{p}.bn2", F.conv2d(out, state[f"{p}.conv2.weight"], padding=1))
            if f"{p}.downsample.0.weight" in state:
                x = _bn(
                    state,
                    f"{p}.downsample.1",
                    F.conv2d(x, state[f"{p}.downsample.0.weight"], stride=2),
                )
            x = F.relu(out + x)
    return x


VGGISH_CONVS = (
    (0, 1, 64),
    (3, 64, 128),
    (6, 128, 256),
    (8, 256, 256),
    (11, 256, 512),
    (13, 512, 512),
)
VGGISH_POOL_AFTER = (0, 3, 8, 13)
VGGISH_FCS = ((0, 12288, 4096), (2, 4096, 4096), (4, 4096, 128))


@functools.lru_cache(maxsize=4)
def vggish_checkpoint(layout: str = "torchvggish", seed: int = 0) -> dict[str, torch.Tensor]:
    """torchvggish (``features.*``/``embeddings.*``) or torchaudio (``features_network.*``/
    ``embedding_network.*``) key layout, random values. Cached (66 M values): copy before
    mutating."""
    g = torch.Generator().manual_seed(seed)
    conv_p, fc_p = (
        ("features", "embeddings")
        if layout == "torchvggish"
        else ("features_network", "embedding_network")
    )
    state: dict[str, torch.Tensor] = {}
    for idx, cin, cout in VGGISH_CONVS:
        state[f"{conv_p}.{idx}.weight"] = (
            torch.randn(cout, cin, 3, 3, generator=g) * (2.0 / (cin * 9)) ** 0.5
        )
        state[f"{conv_p}.{idx}.bias"] = torch.randn(cout, generator=g) * 0.01
    for idx, fin, fout in VGGISH_FCS:
        state[f"{fc_p}.{idx}.weight"] = torch.randn(fout, fin, generator=g) * (2.0 / fin) ** 0.5
        state[f"{fc_p}.{idx}.bias"] = torch.randn(fout, generator=g) * 0.01
    return state


def vggish_reference(state: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """``[N, 1, 96, 64]`` -> ``[N, 128]`` with torchvggish-layout keys."""
    for idx, _, _ in VGGISH_CONVS:
        x = F.relu(
            F.conv2d(x, state[f"features.{idx}.weight"], state[f"features.{idx}.bias"], padding=1)
        )
        if idx in VGGISH_POOL_AFTER:
            x = F.max_pool2d(x, 2, 2)
    # TF flattens NHWC: [N, 6, 4, 512]
    x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
    for idx, _, _ in VGGISH_FCS:
        x = F.relu(F.linear(x, state[f"embeddings.{idx}.weight"], state[f"embeddings.{idx}.bias"]))
    return x


# --- log-mel front end in NumPy (float64) --------------------------------------------------------


def numpy_log_mel_examples(wav: np.ndarray, n_seconds: int = 10) -> np.ndarray:
    """VGGish examples ``[n_seconds, 96, 64]`` computed from the recipe with NumPy only."""
    sr, win, hop, nfft, n_mels = 16000, 400, 160, 512, 64
    wav = np.asarray(wav, dtype=np.float64)[: n_seconds * sr]
    wav = np.pad(wav, (0, n_seconds * sr - wav.shape[0]))
    n = np.arange(win)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / win)  # periodic Hann
    # mel matrix (HTK), bins at k * 8000 / 256
    freqs = np.linspace(0, sr / 2, nfft // 2 + 1)
    to_mel = lambda f: 1127.0 * np.log1p(np.asarray(f) / 700.0)  # noqa: E731
    edges = np.linspace(to_mel(125.0), to_mel(7500.0), n_mels + 2)
    mels = to_mel(freqs)
    lower = (mels[:, None] - edges[None, :-2]) / (edges[1:-1] - edges[:-2])[None, :]
    upper = (edges[None, 2:] - mels[:, None]) / (edges[2:] - edges[1:-1])[None, :]
    matrix = np.maximum(0.0, np.minimum(lower, upper))
    matrix[0, :] = 0.0
    out = np.empty((n_seconds, 96, n_mels))
    for s in range(n_seconds):
        chunk = wav[s * sr : (s + 1) * sr]
        n_frames = 1 + (len(chunk) - win) // hop
        frames = np.stack([chunk[i * hop : i * hop + win] for i in range(n_frames)])
        spec = np.abs(np.fft.rfft(frames * window, n=nfft))
        out[s] = np.log(spec @ matrix + 0.01)[:96]
    return out


# --- a cheap stand-in trunk with the extractor's contract --------------------------------------


class TinyTrunk(nn.Module):
    """[N,3,224,224] -> [N,512,7,7]: 32x32 average pool then a fixed 1x1 conv."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(32)
        self.proj = nn.Conv2d(3, 512, 1, bias=False)
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            self.proj.weight.copy_(torch.randn(512, 3, 1, 1, generator=g))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.pool(x))

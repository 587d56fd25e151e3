"""VGGish: the log-mel front end and the network, one 128-d embedding per second of audio.

Front end (the AudioSet VGGish recipe, as in SPEC-data.md): 16 kHz mono, 25 ms periodic Hann
window (400 samples), 10 ms hop (160), FFT 512, magnitude, 64 HTK mel bands 125-7500 Hz,
``log(mel + 0.01)``. Each second is framed on its own (zero-padded when short) and the first 96
frames of its 98 make one ``96 x 64`` example, so a 10-s clip gives exactly ten examples -
feeding the whole waveform would put examples every 0.96 s and drift.

The network's names follow torchvggish (``features.*``, ``embeddings.*``); torchaudio's bundle
(``features_network.*``, ``embedding_network.*``) is renamed on load in ``weights.py``. Both end
the embedding stack with a ReLU, as the 2017 TF release did, and so does this module.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from avel_annotate.features.vgg import vgg_layers

SAMPLE_RATE = 16_000
WINDOW_SAMPLES = 400  # 25 ms
HOP_SAMPLES = 160  # 10 ms
FFT_LENGTH = 512
N_MELS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
LOG_OFFSET = 0.01
EXAMPLE_FRAMES = 96
EMBEDDING_SIZE = 128
QUANTIZE_MIN = -2.0
QUANTIZE_MAX = 2.0


# --- pure frame / mel math (plain Python, no numpy or torch) ---------------------------------


def hz_to_mel(hz: float) -> float:
    """HTK mel scale: ``1127 * ln(1 + hz / 700)``."""
    return 1127.0 * math.log(1.0 + hz / 700.0)


def n_frames(n_samples: int, window: int = WINDOW_SAMPLES, hop: int = HOP_SAMPLES) -> int:
    """Frames of ``window`` samples every ``hop`` that fit in ``n_samples`` (no padding)."""
    return 0 if n_samples < window else 1 + (n_samples - window) // hop


def mel_weight_matrix(
    n_mels: int = N_MELS,
    n_spectrogram_bins: int = FFT_LENGTH // 2 + 1,
    sample_rate: int = SAMPLE_RATE,
    lower_hz: float = MEL_MIN_HZ,
    upper_hz: float = MEL_MAX_HZ,
) -> list[list[float]]:
    """``[n_spectrogram_bins][n_mels]`` triangular HTK filters, linear in mel, DC bin zeroed.

    Bin ``k`` sits at ``k * (sr/2) / (n_bins - 1)`` Hz; band ``m`` rises from mel edge ``m`` to
    centre ``m+1`` and falls to edge ``m+2`` of ``n_mels + 2`` equally spaced mel points.
    """
    nyquist = sample_rate / 2.0
    if not 0.0 <= lower_hz < upper_hz <= nyquist:
        raise ValueError(f"need 0 <= lower_hz < upper_hz <= {nyquist}, got {lower_hz}, {upper_hz}")
    bin_mels = [
        hz_to_mel(nyquist * k / (n_spectrogram_bins - 1)) for k in range(n_spectrogram_bins)
    ]
    lo, hi = hz_to_mel(lower_hz), hz_to_mel(upper_hz)
    edges = [lo + (hi - lo) * j / (n_mels + 1) for j in range(n_mels + 2)]
    matrix = [[0.0] * n_mels for _ in range(n_spectrogram_bins)]
    for m in range(n_mels):
        left, centre, right = edges[m], edges[m + 1], edges[m + 2]
        for k in range(1, n_spectrogram_bins):  # HTK leaves out the DC bin
            rise = (bin_mels[k] - left) / (centre - left)
            fall = (right - bin_mels[k]) / (right - centre)
            matrix[k][m] = max(0.0, min(rise, fall))
    return matrix


# --- torch front end -------------------------------------------------------------------------


class LogMelFrontEnd(nn.Module):
    """float waveform ``[n_samples]`` (16 kHz) -> ``[n_seconds, 1, 96, 64]`` VGGish examples."""

    window: torch.Tensor
    mel: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer(
            "window", torch.hann_window(WINDOW_SAMPLES, periodic=True, dtype=torch.float64)
        )
        self.register_buffer("mel", torch.tensor(mel_weight_matrix(), dtype=torch.float64))

    def log_mel(self, signal: torch.Tensor) -> torch.Tensor:
        """``[..., n_samples]`` -> ``[..., n_frames, 64]`` log-mel, float32 (math in float64)."""
        frames = signal.to(torch.float64).unfold(-1, WINDOW_SAMPLES, HOP_SAMPLES)
        spectrum = torch.fft.rfft(frames * self.window, n=FFT_LENGTH).abs()
        return torch.log(spectrum @ self.mel + LOG_OFFSET).to(torch.float32)

    def forward(self, wav: torch.Tensor, n_seconds: int = 10) -> torch.Tensor:
        if wav.ndim != 1:
            raise ValueError(f"expected a mono waveform [n_samples], got shape {tuple(wav.shape)}")
        total = n_seconds * SAMPLE_RATE
        wav = wav[:total]
        if wav.shape[0] < total:
            wav = torch.nn.functional.pad(wav, (0, total - wav.shape[0]))
        per_second = wav.reshape(n_seconds, SAMPLE_RATE)
        return self.log_mel(per_second)[:, :EXAMPLE_FRAMES].unsqueeze(1)


# --- network ---------------------------------------------------------------------------------

VGGISH_CFG: tuple[int | str, ...] = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M")


class VGGish(nn.Module):
    """``[N, 1, 96, 64]`` log-mel examples -> ``[N, 128]`` embeddings (torchvggish names)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = vgg_layers(VGGISH_CFG, in_channels=1)
        self.embeddings = nn.Sequential(
            nn.Linear(512 * 6 * 4, 4096),
            nn.ReLU(True),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Linear(4096, EMBEDDING_SIZE),
            nn.ReLU(True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # [N, 512, 6, 4]
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # TF's NHWC flatten order
        return self.embeddings(x)


class PCAQuantize(nn.Module):
    """AudioSet post-processing: PCA (with whitening), clip to [-2, 2], quantise to 0..255.

    ``eigen_vectors`` is ``[128, 128]`` (rows = output dims), ``means`` ``[128]``, as in
    torchvggish's ``vggish_pca_params`` (``pca_eigen_vectors``, ``pca_means``).
    """

    eigen_vectors: torch.Tensor
    means: torch.Tensor

    def __init__(self, eigen_vectors: torch.Tensor, means: torch.Tensor) -> None:
        super().__init__()
        if tuple(eigen_vectors.shape) != (EMBEDDING_SIZE, EMBEDDING_SIZE):
            raise ValueError(f"PCA matrix must be 128x128, got {tuple(eigen_vectors.shape)}")
        if means.numel() != EMBEDDING_SIZE:
            raise ValueError(f"PCA means must have 128 values, got {means.numel()}")
        self.register_buffer("eigen_vectors", eigen_vectors.to(torch.float32))
        self.register_buffer("means", means.reshape(-1).to(torch.float32))

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        projected = (embeddings.to(torch.float32) - self.means) @ self.eigen_vectors.T
        clipped = projected.clamp(QUANTIZE_MIN, QUANTIZE_MAX)
        return torch.round((clipped - QUANTIZE_MIN) * (255.0 / (QUANTIZE_MAX - QUANTIZE_MIN)))

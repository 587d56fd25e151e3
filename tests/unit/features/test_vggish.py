"""VGGish: log-mel front end vs NumPy, both checkpoint layouts vs a reference, PCA quantisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from avel_annotate.errors import FeatureError, WeightsNotFoundError
from avel_annotate.features import weights as W
from avel_annotate.features.vggish import (
    LogMelFrontEnd,
    PCAQuantize,
    VGGish,
    mel_weight_matrix,
    n_frames,
)
from tests.unit.features import reference as R


def _wav(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    tone = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 3000 * t)
    return (tone + 0.05 * rng.standard_normal(t.shape)).astype(np.float32)


def test_frame_math() -> None:
    assert n_frames(16000) == 98  # one second: 98 frames, the example keeps the first 96
    assert n_frames(399) == 0
    assert n_frames(400) == 1


def test_log_mel_matches_numpy_recipe() -> None:
    wav = _wav(10.0)
    ours = LogMelFrontEnd()(torch.from_numpy(wav)).numpy()
    ref = R.numpy_log_mel_examples(wav)
    assert ours.shape == (10, 1, 96, 64) and ours.dtype == np.float32
    assert np.abs(ours[:, 0] - ref).max() <= 1e-4


def test_short_audio_is_zero_padded_and_long_audio_cut() -> None:
    wav = _wav(1.5)
    ours = LogMelFrontEnd()(torch.from_numpy(wav)).numpy()[:, 0]
    np.testing.assert_allclose(ours, R.numpy_log_mel_examples(wav), atol=1e-4)
    assert np.allclose(ours[2:], np.log(0.01), atol=1e-6)  # silence after the audio ends
    long = _wav(10.7)
    np.testing.assert_allclose(
        LogMelFrontEnd()(torch.from_numpy(long)).numpy()[:, 0],
        R.numpy_log_mel_examples(long[:160000]),
        atol=1e-4,
    )


def test_mel_matrix_is_htk_triangles() -> None:
    m = np.array(mel_weight_matrix())
    assert m.shape == (257, 64)
    assert (m[0] == 0).all()  # DC bin excluded
    assert m.max() <= 1.0 and m.min() >= 0.0
    peak_hz = m.argmax(axis=0) * 8000 / 256
    assert (np.diff(peak_hz) >= 0).all() and 100 < peak_hz[0] < 200 and peak_hz[-1] > 7000


@pytest.mark.parametrize("layout", ["torchvggish", "torchaudio"])
def test_vggish_checkpoint_layouts_load_strictly_and_match_reference(
    tmp_path: Path, layout: str
) -> None:
    state = R.vggish_checkpoint(layout)
    path = tmp_path / ("vggish-10086976.pth" if layout == "torchvggish" else "vggish.pt")
    torch.save(state, path)
    net = VGGish()
    assert W.load_vggish(net, path) == layout
    x = torch.randn(3, 1, 96, 64)
    with torch.inference_mode():
        ours = net.eval()(x)
        ref = R.vggish_reference(R.vggish_checkpoint("torchvggish"), x)
    assert ours.shape == (3, 128)
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-5)


def test_vggish_loader_refuses_other_files(tmp_path: Path) -> None:
    path = tmp_path / "vgg19.pth"
    torch.save(R.vgg19_checkpoint(), path)
    with pytest.raises(FeatureError, match="not a VGGish checkpoint"):
        W.load_vggish(VGGish(), path)
    state = dict(R.vggish_checkpoint())
    del state["embeddings.4.bias"]
    torch.save(state, path)
    with pytest.raises(FeatureError, match="missing"):
        W.load_vggish(VGGish(), path)


@pytest.mark.parametrize("suffix", [".pth", ".npz"])
def test_pca_quantisation(tmp_path: Path, suffix: str) -> None:
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((128, 128)).astype(np.float32) * 0.1
    means = rng.standard_normal(128).astype(np.float32)
    path = tmp_path / f"vggish_pca_params{suffix}"
    if suffix == ".npz":
        np.savez(path, pca_eigen_vectors=vectors, pca_means=means)
    else:  # torchvggish's file pickles numpy arrays
        torch.save({"pca_eigen_vectors": vectors, "pca_means": means.reshape(-1, 1)}, path)
    pca = W.load_pca(path)
    emb = rng.standard_normal((10, 128)).astype(np.float32) * 5
    ours = pca(torch.from_numpy(emb)).numpy()
    projected = (emb.astype(np.float64) - means) @ vectors.T.astype(np.float64)
    want = np.round((np.clip(projected, -2, 2) + 2) * 255 / 4)
    assert ours.min() >= 0 and ours.max() <= 255
    assert np.mean(ours == want) > 0.99  # float32 rounding may flip a value sitting on .5
    assert np.abs(ours - want).max() <= 1


def test_pca_bad_shapes_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="128x128"):
        PCAQuantize(torch.zeros(64, 128), torch.zeros(128))
    with pytest.raises(WeightsNotFoundError, match="PCA params not found"):
        W.load_pca(tmp_path / "nope.pth")

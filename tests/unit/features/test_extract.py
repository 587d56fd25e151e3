"""Extractor: per-second averaging, shapes/dtypes, determinism, bf16, the pipelined loop.

Most tests use a tiny stand-in trunk (same [N,512,7,7] contract) so 160 frames stay cheap; the
real VGG-19 runs on a few frames only.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from avel_annotate.errors import ConfigError, FeatureError, MediaError
from avel_annotate.features.extract import ClipResult, Extractor, ExtractorOptions
from avel_annotate.features.provenance import Provenance
from avel_annotate.features.vgg import preprocess
from avel_annotate.features.vggish import VGGish
from avel_annotate.features.weights import seeded_random
from tests.unit.features.reference import TinyTrunk


def _provenance(dtype: str = "float32") -> Provenance:
    return Provenance(
        extractor="tiny_vggish",
        visual_model="tiny",
        visual_weights="random",
        audio_model="vggish",
        audio_weights="random",
        random=True,
        preprocessing="torchvision",
        decoder="test",
        dtype=dtype,
        frames_per_second=16,
    )


@pytest.fixture(scope="module")
def vggish() -> VGGish:
    return seeded_random(VGGish(), seed=1)  # type: ignore[return-value]


def _extractor(vggish: VGGish, dtype: str = "float32", **kw: object) -> Extractor:
    opts = ExtractorOptions(dtype=dtype, **kw)  # type: ignore[arg-type]
    return Extractor(opts, TinyTrunk(), vggish, None, _provenance(dtype))


def _clip(seed: int, fps: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (10 * fps, 224, 224, 3), dtype=np.uint8)
    wav = (0.1 * rng.standard_normal(160_000)).astype(np.float32)
    return frames, wav


def test_extract_clip_shapes_dtypes_and_per_second_mean(vggish: VGGish) -> None:
    ex = _extractor(vggish)
    frames, wav = _clip(0)
    visual, audio = ex.extract_clip(frames, wav)
    assert visual.shape == (10, 7, 7, 512) and visual.dtype == np.float16
    assert audio.shape == (10, 128) and audio.dtype == np.float16
    with torch.inference_mode():
        maps = TinyTrunk()(preprocess(torch.from_numpy(frames))).numpy()  # [160,512,7,7]
    want = maps.reshape(10, 16, 512, 7, 7).mean(axis=1).transpose(0, 2, 3, 1)
    np.testing.assert_allclose(visual.astype(np.float32), want, rtol=2e-3, atol=2e-3)
    again = ex.extract_clip(frames, wav)
    np.testing.assert_array_equal(again[0], visual)  # deterministic
    np.testing.assert_array_equal(again[1], audio)


def test_batch_size_does_not_change_results(vggish: VGGish) -> None:
    frames, wav = _clip(1, fps=4)
    a = _extractor(vggish, batch_frames=40, frames_per_second=4).extract_clip(frames, wav)
    b = _extractor(vggish, batch_frames=7, frames_per_second=4).extract_clip(frames, wav)
    np.testing.assert_allclose(a[0].astype(np.float32), b[0].astype(np.float32), rtol=1e-3)


def test_bfloat16_is_close_to_float32(vggish: VGGish) -> None:
    frames, wav = _clip(2, fps=4)
    f32 = _extractor(vggish, frames_per_second=4).extract_clip(frames, wav)[0]
    b16 = _extractor(vggish, "bfloat16", frames_per_second=4).extract_clip(frames, wav)[0]
    f32, b16 = f32.astype(np.float32), b16.astype(np.float32)
    rel = np.abs(b16 - f32).mean() / np.abs(f32).mean()
    assert rel < 0.02


def test_extract_clip_refuses_wrong_input(vggish: VGGish) -> None:
    ex = _extractor(vggish)
    frames, wav = _clip(0)
    with pytest.raises(FeatureError, match="expected uint8"):
        ex.extract_clip(frames[:100], wav)
    with pytest.raises(FeatureError, match="mono"):
        ex.extract_clip(frames, np.stack([wav, wav]))


def test_real_vgg19_on_a_few_frames_fp32_vs_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", "/nonexistent-torch-home")
    ex = Extractor.from_options(ExtractorOptions(allow_random_weights=True))
    ex16 = Extractor.from_options(ExtractorOptions(allow_random_weights=True, dtype="bfloat16"))
    frames = np.random.default_rng(3).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
    a = ex.visual_maps(frames)
    b = ex16.visual_maps(frames)
    assert a.shape == (2, 512, 7, 7) and a.dtype == torch.float32
    rel = (a - b).abs().mean() / a.abs().mean()
    assert float(rel) < 0.05


def test_options_validation() -> None:
    for bad in (
        ExtractorOptions(visual="vgg16"),
        ExtractorOptions(dtype="float16"),
        ExtractorOptions(preprocessing="keras"),
        ExtractorOptions(visual="resnet18", preprocessing="caffe"),
        ExtractorOptions(batch_frames=0),
    ):
        with pytest.raises(ConfigError):
            bad.validate()
    assert ExtractorOptions(preprocessing="caffe").extractor_name == "vgg19-caffe_vggish"
    assert ExtractorOptions(pca_params=Path("p.npz")).extractor_name == "vgg19_vggish-pca"


def test_extract_many_keeps_order_reports_failures_and_overlaps(vggish: VGGish) -> None:
    ex = _extractor(vggish, prefetch_clips=2, frames_per_second=2)  # 20 frames a clip: cheap
    clips = {f"clip{i}": _clip(i, fps=2) for i in range(4)}
    decode_threads: set[str] = set()

    def decode(mp4: Path, wav: Path) -> tuple[np.ndarray, np.ndarray]:
        decode_threads.add(threading.current_thread().name)
        if mp4.name == "clip2.mp4":
            raise MediaError(f"{mp4}: cannot decode video")
        return clips[mp4.stem]

    items = [(cid, Path(f"{cid}.mp4"), Path(f"{cid}.wav")) for cid in clips]
    results: list[ClipResult] = []
    summary = ex.extract_many(items, decode, results.append)
    assert [r.clip_id for r in results] == list(clips)
    assert summary.n_ok == 3 and summary.n_failed == 1 and summary.failed == ["clip2"]
    bad = results[2]
    assert isinstance(bad.error, MediaError) and bad.visual is None
    for r in results[:2] + results[3:]:
        assert r.ok and r.visual is not None and r.audio is not None
    np.testing.assert_array_equal(results[3].visual, ex.extract_clip(*clips["clip3"])[0])
    assert threading.current_thread().name not in decode_threads  # decoding ran in workers


def test_iter_extract_stops_cleanly_when_abandoned(vggish: VGGish) -> None:
    ex = _extractor(vggish, frames_per_second=1)
    calls: list[str] = []

    def decode(mp4: Path, wav: Path) -> tuple[np.ndarray, np.ndarray]:
        calls.append(mp4.stem)
        return _clip(0, fps=1)

    items = ((f"c{i}", Path(f"c{i}.mp4"), Path("w.wav")) for i in range(100))
    gen = ex.iter_extract(items, decode)
    first = next(gen)
    gen.close()
    assert first.ok and len(calls) <= 4  # bounded look-ahead, not the whole list

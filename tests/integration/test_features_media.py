"""Real ffmpeg-made clips through media.decode and the extractor pipeline.

Each generated video frame carries its own index as a 12-bit black/white bar code (``geq`` on
the frame number ``N``), so decoding the bars of the 160 returned frames proves which frames the
decoder picked against the reference formula ``floor(l*fi + (i/16)*fi)``.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from avel_annotate.errors import MediaError
from avel_annotate.features.extract import ClipResult, Extractor, ExtractorOptions
from avel_annotate.features.provenance import Provenance
from avel_annotate.features.store_files import feature_path, read_features, write_features
from avel_annotate.features.vggish import VGGish
from avel_annotate.features.weights import seeded_random
from avel_annotate.media.decode import (
    decode_clip,
    decode_frames,
    decoder_description,
    read_wav,
    reference_frame_indices,
)
from tests.unit.features.reference import TinyTrunk

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")

BITS = 12
BAR_W = 8  # pixels per bit in a 96 x 64 source frame


def _make_clip(folder: Path, name: str, rate: int, seconds: float = 10.0) -> tuple[Path, Path]:
    mp4, wav = folder / f"{name}.mp4", folder / f"{name}.wav"
    bars = f"if(mod(floor(N/pow(2\\,floor(X/{BAR_W})))\\,2)\\,235\\,16)"
    video = (
        f"color=c=black:s={BITS * BAR_W}x64:r={rate}:d={seconds},format=yuv420p,"
        f"geq=lum='{bars}':cb=128:cr=128"
    )
    subprocess.run(
        ["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-f", "lavfi", "-i", video,
         "-f", "lavfi", "-i", f"sine=f=440:sample_rate=44100:d={seconds}",
         "-c:v", "libx264", "-crf", "5", "-pix_fmt", "yuv420p", "-r", str(rate),
         "-c:a", "aac", "-shortest", str(mp4)],
        check=True,
    )  # fmt: skip
    subprocess.run(
        ["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-i", str(mp4), "-vn", "-ac", "1",
         "-ar", "16000", "-c:a", "pcm_s16le", "-t", str(seconds), str(wav)],
        check=True,
    )  # fmt: skip
    return mp4, wav


def _frame_numbers(frames: np.ndarray) -> list[int]:
    """Read the bar code back: the centre pixel of each bar after the 96 -> 224 squash."""
    centres = [int((k + 0.5) * frames.shape[2] / BITS) for k in range(BITS)]
    row = frames.shape[1] // 2
    return [
        sum(1 << k for k, x in enumerate(centres) if frame[row, x, 0] > 128) for frame in frames
    ]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[Path, Path]]:
    folder = tmp_path_factory.mktemp("clips")
    return {rate: _make_clip(folder, f"clip{rate}", rate) for rate in (25, 30)}


@pytest.mark.parametrize("rate", [25, 30])
def test_decoded_frames_are_the_reference_picks(
    clips: dict[int, tuple[Path, Path]], rate: int
) -> None:
    frames = decode_frames(clips[rate][0])
    assert frames.shape == (160, 224, 224, 3) and frames.dtype == np.uint8
    n_frames = 10 * rate
    fi = math.floor(n_frames / 10)
    reference = [math.floor(seg * fi + (i / 16) * fi) for seg in range(10) for i in range(16)]
    assert reference_frame_indices(n_frames) == reference
    assert _frame_numbers(frames) == reference


def test_container_without_a_frame_count_is_counted_by_decoding(
    tmp_path: Path, clips: dict[int, tuple[Path, Path]]
) -> None:
    mkv = tmp_path / "clip30.mkv"  # Matroska stores no frame count: decode counts, then picks
    subprocess.run(
        ["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-i", str(clips[30][0]), "-c", "copy",
         str(mkv)],
        check=True,
    )  # fmt: skip
    assert _frame_numbers(decode_frames(mkv)) == reference_frame_indices(300)


def test_reference_indices_for_other_counts() -> None:
    for n in (1, 9, 10, 159, 160, 239, 250, 299, 300, 301, 600, 2997):
        fi = math.floor(n / 10)
        want = [math.floor(seg * fi + (i / 16) * fi) for seg in range(10) for i in range(16)]
        assert reference_frame_indices(n) == want


def test_wav_is_read_as_float32(clips: dict[int, tuple[Path, Path]]) -> None:
    frames, wav = decode_clip(*clips[25])
    assert frames.shape == (160, 224, 224, 3)
    assert wav.dtype == np.float32 and wav.ndim == 1
    assert abs(wav.shape[0] - 160_000) <= 2048  # AAC priming/padding may shift the end a little
    spectrum = np.abs(np.fft.rfft(wav[:16000]))
    assert abs(int(spectrum.argmax()) - 440) <= 1  # 1-Hz bins over one second


def test_media_errors_name_the_file(tmp_path: Path, clips: dict[int, tuple[Path, Path]]) -> None:
    with pytest.raises(MediaError, match="not found"):
        decode_frames(tmp_path / "missing.mp4")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(clips[25][0].read_bytes()[:2000])
    with pytest.raises(MediaError, match=r"broken\.mp4"):
        decode_frames(broken)
    stereo = tmp_path / "stereo.wav"
    with wave.open(str(stereo), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0" * 6400)
    with pytest.raises(MediaError, match=r"stereo\.wav: wav is 2 ch"):
        read_wav(stereo)


def test_pipeline_end_to_end_writes_feature_files(
    tmp_path: Path, clips: dict[int, tuple[Path, Path]]
) -> None:
    options = ExtractorOptions(decoder=decoder_description(), prefetch_clips=2)

    provenance = Provenance(
        extractor="tiny_vggish",
        visual_model="tiny",
        visual_weights="random",
        audio_model="vggish",
        audio_weights="random",
        random=True,
        preprocessing="torchvision",
        decoder=decoder_description(),
        dtype="float32",
        frames_per_second=16,
    )
    ex = Extractor(options, TinyTrunk(), seeded_random(VGGish(), 1), None, provenance)
    items = [
        ("clip25", clips[25][0], clips[25][1]),
        ("gone", tmp_path / "gone.mp4", tmp_path / "gone.wav"),
        ("clip30", clips[30][0], clips[30][1]),
    ]
    written: dict[str, Path] = {}
    failures: dict[str, BaseException] = {}

    def on_done(result: ClipResult) -> None:
        if result.error is not None:
            failures[result.clip_id] = result.error
            return
        assert result.visual is not None and result.audio is not None
        path = feature_path(tmp_path / "features", ex.name, result.clip_id)
        written[result.clip_id] = write_features(path, result.visual, result.audio, provenance)

    summary = ex.extract_many(items, decode_clip, on_done)
    assert summary.n_ok == 2 and summary.failed == ["gone"]
    assert isinstance(failures["gone"], MediaError)
    got = read_features(written["clip30"])
    assert got.visual.shape == (10, 7, 7, 512) and got.audio.shape == (10, 128)
    assert got.provenance.decoder.startswith("pyav-") and got.provenance.random is True
    direct = ex.extract_clip(*decode_clip(*clips[30]))
    np.testing.assert_array_equal(got.visual, direct[0])
    np.testing.assert_array_equal(got.audio, direct[1])

"""Feature extraction speed on this machine -> ``benchmarks/results/features.json``.

Measures, for float32 and bfloat16 (autocast + channels_last):

- ``extractor_frames_per_s``: the visual trunk alone on already-decoded frames;
- ``end_to_end_clips_per_s``: ``Extractor.extract_many`` over generated clips with
  ``media.decode.decode_clip`` as the decode function (decode + VGG-19 + VGGish), and its
  frames/s equivalent (x160) as a fraction of the extractor's own rate - the target is >= 0.8 in
  bf16, i.e. decoding hides behind compute.

Clips are generated with ffmpeg (640x360 ``testsrc2`` at 25 fps + a sine, H.264 + AAC, and the
16 kHz mono wav), like the normalised clips ``avel fetch`` writes. Weights are the real ones when
they are in the torch hub cache, else random (speed does not depend on the values).

    .venv/bin/python benchmarks/bench_features.py [--clips 2] [--rounds 3] [--fp32-clips 1]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from avel_annotate.features.extract import ClipResult, Extractor, ExtractorOptions
from avel_annotate.media.decode import decode_clip, decoder_description

logger = logging.getLogger("bench_features")
RESULTS = Path(__file__).resolve().parent / "results" / "features.json"


def make_clip(folder: Path, i: int, seconds: int = 10) -> tuple[str, Path, Path]:
    mp4, wav = folder / f"clip{i}.mp4", folder / f"clip{i}.wav"
    common = ["ffmpeg", "-nostdin", "-y", "-loglevel", "error"]
    subprocess.run(
        [*common, "-f", "lavfi", "-i", f"testsrc2=s=640x360:r=25:d={seconds}",
         "-f", "lavfi", "-i", f"sine=f={220 * (i + 1)}:sample_rate=44100:d={seconds}",
         "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-shortest", str(mp4)],
        check=True,
    )  # fmt: skip
    subprocess.run(
        [*common, "-i", str(mp4), "-vn", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le",
         "-t", str(seconds), str(wav)],
        check=True,
    )  # fmt: skip
    return f"clip{i}", mp4, wav


def time_decode(clips: list[tuple[str, Path, Path]]) -> float:
    t0 = time.perf_counter()
    for _, mp4, wav in clips:
        decode_clip(mp4, wav)
    return (time.perf_counter() - t0) / len(clips)


def extractor_fps(ex: Extractor, frames: np.ndarray, n_frames: int) -> float:
    """The visual trunk alone on decoded frames (after a warm-up batch)."""
    ex.visual_maps(frames[: ex.options.batch_frames])  # warm-up (kernel selection, allocator)
    t0 = time.perf_counter()
    ex.visual_maps(frames[:n_frames])
    return n_frames / (time.perf_counter() - t0)


def end_to_end(ex: Extractor, clips: list[tuple[str, Path, Path]]) -> dict[str, float]:
    done: list[ClipResult] = []
    summary = ex.extract_many(clips, decode_clip, done.append)
    if summary.n_failed:
        raise RuntimeError(f"clips failed: {[(r.clip_id, r.error) for r in done if r.error]}")
    return {
        "clips": len(clips),
        "wall_s": round(summary.wall_s, 2),
        "clips_per_s": len(clips) / summary.wall_s,
        "frames_per_s_equivalent": 160 * len(clips) / summary.wall_s,
        "decode_s_per_clip_in_pipeline": float(np.mean([r.decode_s for r in done])),
        "compute_s_per_clip": float(np.mean([r.compute_s for r in done])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=2, help="clips per bf16 end-to-end round")
    parser.add_argument("--rounds", type=int, default=3, help="bf16 rounds (best one is kept)")
    parser.add_argument("--fp32-clips", type=int, default=1, help="clips for the fp32 run")
    parser.add_argument("--fp32-frames", type=int, default=64, help="frames for fp32 alone")
    parser.add_argument("--visual", default="vgg19", choices=["vgg19", "resnet18"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    results: dict[str, object] = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "decoder": decoder_description(),
            "device": args.device,
            "note": "shared machine: best of the rounds is reported; see load_average_1min",
        },
        "visual": args.visual,
    }
    with tempfile.TemporaryDirectory(prefix="bench-features-") as tmp:
        n_make = max(args.clips, args.fp32_clips)
        clips = [make_clip(Path(tmp), i) for i in range(n_make)]
        results["decode_s_per_clip_alone"] = time_decode(clips[:2])
        frames, _ = decode_clip(clips[0][1], clips[0][2])
        for dtype, n_clips, n_frames, rounds in (
            ("bfloat16", args.clips, 160, args.rounds),
            ("float32", args.fp32_clips, args.fp32_frames, 1),
        ):
            options = ExtractorOptions(
                device=args.device,
                dtype=dtype,
                visual=args.visual,
                allow_random_weights=True,
                decoder=decoder_description(),
            )
            ex = Extractor.from_options(options)
            # Alternate the two measurements and keep the best of each: on a shared machine
            # other processes only ever slow a run down, so the best round is the least disturbed.
            alone_runs, e2e_runs, loads = [], [], []
            for _ in range(rounds):
                loads.append(os.getloadavg()[0])
                alone_runs.append(extractor_fps(ex, frames, n_frames))
                e2e_runs.append(end_to_end(ex, clips[:n_clips]))
            loads.append(os.getloadavg()[0])
            alone = max(alone_runs)
            e2e = max(e2e_runs, key=lambda r: r["clips_per_s"])
            e2e["fraction_of_extractor_fps"] = e2e["frames_per_s_equivalent"] / alone
            logger.info(
                "%s: visual alone %.1f frames/s; end to end %.3f clips/s = %.1f frames/s "
                "(%.0f %% of the extractor alone)",
                dtype,
                alone,
                e2e["clips_per_s"],
                e2e["frames_per_s_equivalent"],
                100 * e2e["fraction_of_extractor_fps"],
            )
            results[dtype] = {
                "extractor_frames_per_s": alone,
                "extractor_frames_timed": n_frames,
                "end_to_end": e2e,
                "rounds": rounds,
                "all_rounds": {
                    "extractor_frames_per_s": alone_runs,
                    "end_to_end_clips_per_s": [r["clips_per_s"] for r in e2e_runs],
                },
                "weights_random": ex.provenance.random,
                "load_average_1min": loads,
            }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    logger.info("wrote %s", args.out)


if __name__ == "__main__":
    main()

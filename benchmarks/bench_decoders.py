"""PyAV (the toolkit's decoder) vs torchcodec on the CPU, one thread, one generated clip.

Writes ``benchmarks/results/decoders.json``: CPU and wall seconds per clip (median of rounds
interleaved) for decoding the 160 reference frames of a 10-s 640x360 H.264 clip and scaling
them to 224x224, and how far torchcodec's frames are from PyAV/swscale's. torchcodec is not a
dependency: install it somewhere and put it on ``PYTHONPATH`` (``pip install --target DIR
--no-deps torchcodec``); without it only PyAV is timed.

    PYTHONPATH=/tmp/tc .venv/bin/python benchmarks/bench_decoders.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from avel_annotate.media.decode import decode_clip, decoder_description, reference_frame_indices

RESULTS = Path(__file__).parent / "results" / "decoders.json"


def main() -> None:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="avel-bench-dec-") as tmp:
        mp4, wav = Path(tmp) / "c.mp4", Path(tmp) / "c.wav"
        ff = ["ffmpeg", "-nostdin", "-y", "-loglevel", "error"]
        subprocess.run([*ff, "-f", "lavfi", "-i", "testsrc2=s=640x360:r=25:d=10", "-c:v",
                        "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(mp4)],
                       check=True)  # fmt: skip
        subprocess.run([*ff, "-f", "lavfi", "-i", "sine=d=10", "-ac", "1", "-ar", "16000",
                        str(wav)], check=True)  # fmt: skip

        def pyav() -> np.ndarray:
            return decode_clip(mp4, wav)[0]

        decoders = {"pyav": pyav}
        result: dict[str, object] = {"pyav_version": decoder_description()}
        try:
            import torchcodec
            from torchcodec.decoders import VideoDecoder

            def torchcodec_cpu() -> np.ndarray:
                d = VideoDecoder(str(mp4), num_ffmpeg_threads=1, seek_mode="exact")
                idx = reference_frame_indices(d.metadata.num_frames)
                frames = d.get_frames_at(indices=idx).data.float()  # [160, 3, H, W]
                out = torch.nn.functional.interpolate(frames, size=(224, 224), mode="bilinear")
                return out.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()

            def torchcodec_decode_only() -> np.ndarray:  # full-size frames, no scaling
                d = VideoDecoder(str(mp4), num_ffmpeg_threads=1, seek_mode="exact")
                idx = reference_frame_indices(d.metadata.num_frames)
                return d.get_frames_at(indices=idx).data.numpy()

            decoders["torchcodec_cpu"] = torchcodec_cpu
            decoders["torchcodec_decode_only"] = torchcodec_decode_only
            result["torchcodec_version"] = torchcodec.__version__
        except ImportError:
            result["torchcodec_version"] = None
        for fn in decoders.values():
            fn()  # warm-up
        runs: dict[str, list[tuple[float, float]]] = {k: [] for k in decoders}
        for _ in range(3):
            for name, fn in decoders.items():
                c0, t0 = time.process_time(), time.perf_counter()
                fn()
                runs[name].append((time.process_time() - c0, time.perf_counter() - t0))
        for name, rs in runs.items():
            result[name] = {"cpu_s_per_clip": statistics.median(r[0] for r in rs),
                            "wall_s_per_clip": statistics.median(r[1] for r in rs)}  # fmt: skip
        if "torchcodec_cpu" in decoders:
            diff = np.abs(pyav().astype(np.int16) - decoders["torchcodec_cpu"]().astype(np.int16))
            result["torchcodec_vs_pyav_pixels"] = {"mean_abs": float(diff.mean()),
                                                   "max_abs": int(diff.max())}  # fmt: skip
    result["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

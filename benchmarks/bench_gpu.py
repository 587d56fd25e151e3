"""The device benchmarks of issue 14, one section at a time -> one JSON file per section.

Sections (``--sections``, all by default):

- ``train``: a synthetic AVE-size run (4,143 clips: 3,339 train / 402 val / 402 test, C = 28,
  float16 h5 in the AVE layout), all three stages, once per precision (``bf16`` autocast,
  ``tf32`` = float32 weights with TF32 matmuls on CUDA, plain ``float32`` on CPU): seconds per
  epoch per stage, peak GPU memory (``torch.cuda.max_memory_allocated``) or peak RSS on CPU.
- ``resume``: the resume-equality check on the device: a run interrupted after its first
  epoch and resumed must end with the same weights as an uninterrupted one (max |diff|).
- ``extract``: feature extraction end to end (decode + VGG-19 + VGGish + feature file) on
  generated 640x360 H.264 clips, clips/s for 1..N decode worker *processes* (as
  ``avel features extract --decode-workers N``); the CPU cost of decoding one clip (measured
  in the workers) and of receiving it; what limits the rate (decode: workers x per-clip decode
  rate vs compute alone); the cores one device needs to be kept busy.
- ``predict``: clips/s of evaluating a model over the synthetic test set (read + forward).

``--smoke`` shrinks everything (tens of clips, one epoch per stage, resnet18, one 10-s clip)
so the whole script runs on a CPU in well under a minute: the CI smoke run that keeps it alive.

    python benchmarks/bench_gpu.py --device cuda --out-dir benchmarks/results
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from avel_annotate.model import CPSPNet, ModelConfig
from avel_annotate.model.data import AveH5Dataset
from avel_annotate.model.evaluate import evaluate
from avel_annotate.model.synthetic import SyntheticSpec, write_synthetic_ave
from avel_annotate.model.train import TrainConfig, train

SECTIONS = ("train", "resume", "extract", "predict")


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _memory(device: str) -> dict[str, float]:
    if device.startswith("cuda"):
        return {"gpu_peak_allocated_mb": torch.cuda.max_memory_allocated() / 2**20,
                "gpu_peak_reserved_mb": torch.cuda.max_memory_reserved() / 2**20}  # fmt: skip
    return {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _precisions(device: str) -> dict[str, bool]:
    """name -> bf16 autocast; 'tf32' on CUDA is float32 weights with TF32 matmuls."""
    return {"bf16": True, "tf32" if device.startswith("cuda") else "float32": False}


def _set_tf32(on: bool) -> None:
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on


def _spec(smoke: bool) -> SyntheticSpec:
    if smoke:
        return SyntheticSpec(n_train=24, n_val=8, n_test=8, n_categories=4, seed=5)
    return SyntheticSpec(n_train=3339, n_val=402, n_test=402, n_categories=28, seed=5)


def section_train(args: argparse.Namespace, root: Path, tmp: Path) -> dict[str, Any]:
    data = {s: AveH5Dataset(root, s) for s in ("train", "val", "test")}
    out: dict[str, Any] = {"clips": {s: len(d) for s, d in data.items()}}
    for name, bf16 in _precisions(args.device).items():
        _set_tf32(name == "tf32")
        if args.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        tc = TrainConfig(batch_size=8 if args.smoke else 128, psp_epochs=args.psp_epochs,
                         psa_s_epochs=args.stage2_epochs, psa_v_epochs=args.stage2_epochs,
                         bf16=bf16)  # fmt: skip
        t0 = time.perf_counter()
        result = train(ModelConfig(n_categories=data["train"].n_categories), data["train"],
                       data["val"], tmp / f"train-{name}", tc, device=args.device)  # fmt: skip
        _sync(args.device)
        per_stage: dict[str, list[float]] = {}
        for rec in result.history:
            per_stage.setdefault(rec.stage, []).append(rec.seconds)
        out[name] = {
            "wall_s": time.perf_counter() - t0,
            # the first epoch carries warm-up (cuDNN/cuBLAS plans, page cache): reported apart
            "s_per_epoch_median": {k: statistics.median(v) for k, v in per_stage.items()},
            "s_first_epoch": {k: v[0] for k, v in per_stage.items()},
            "epochs": {k: len(v) for k, v in per_stage.items()},
            "best_val_accuracy": result.best_val_accuracy,
            "best_stage": result.best_stage,
            **_memory(args.device),
        }
        print(name, json.dumps(out[name]), flush=True)
    _set_tf32(False)
    return out


def section_resume(args: argparse.Namespace, root: Path, tmp: Path) -> dict[str, Any]:
    train_data, val_data = AveH5Dataset(root, "train"), AveH5Dataset(root, "val")
    tc = TrainConfig(batch_size=8 if args.smoke else 64, psp_epochs=2, psa_s_epochs=1,
                     psa_v_epochs=1)  # fmt: skip
    cfg = ModelConfig(n_categories=train_data.n_categories)
    whole = train(cfg, train_data, val_data, tmp / "whole", tc, device=args.device)

    class Stop(Exception):
        pass

    def stop_after_first(rec: Any) -> None:
        raise Stop

    with contextlib.suppress(Stop):
        train(cfg, train_data, val_data, tmp / "cut", tc, device=args.device,
              callback=stop_after_first)  # fmt: skip
    resumed = train(cfg, train_data, val_data, tmp / "cut", tc, device=args.device)
    a = torch.load(whole.best_checkpoint, map_location="cpu", weights_only=False)
    b = torch.load(resumed.best_checkpoint, map_location="cpu", weights_only=False)
    sa, sb = a["state_dict"], b["state_dict"]
    diffs = [
        float((sa[k].float() - sb[k].float()).abs().max())
        for k in sa
        if isinstance(sa[k], torch.Tensor) and sa[k].numel()
    ]
    max_diff = max(diffs) if diffs else float("nan")
    return {"equal": max_diff == 0.0, "max_abs_weight_diff": max_diff,
            "best_epoch_whole": [whole.best_stage, whole.best_epoch],
            "best_epoch_resumed": [resumed.best_stage, resumed.best_epoch]}  # fmt: skip


def section_predict(args: argparse.Namespace, root: Path, tmp: Path) -> dict[str, Any]:
    test = AveH5Dataset(root, "test")
    model = CPSPNet(ModelConfig(n_categories=test.n_categories)).to(args.device)
    out: dict[str, Any] = {"clips": len(test)}
    for name, bf16 in _precisions(args.device).items():
        _set_tf32(name == "tf32")
        evaluate(model, test, bf16=bf16)  # warm-up
        runs = []
        for _ in range(3):
            _sync(args.device)
            t0 = time.perf_counter()
            evaluate(model, test, bf16=bf16)
            _sync(args.device)
            runs.append(len(test) / (time.perf_counter() - t0))
        out[name] = {"clips_per_s_median": statistics.median(runs), "runs": runs}
    _set_tf32(False)
    return out


def section_extract(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_features import make_clip

    from avel_annotate.features.decode_pool import available_cores
    from avel_annotate.features.extract import ClipResult, Extractor, ExtractorOptions
    from avel_annotate.features.provenance import Provenance  # noqa: F401 (provenance type)
    from avel_annotate.features.store_files import feature_path, write_features
    from avel_annotate.media.decode import decode_clip, decoder_description

    n_clips = 1 if args.smoke else args.extract_clips
    folder = tmp / "clips"
    folder.mkdir()
    clips = [make_clip(folder, i) for i in range(min(n_clips, 4))]
    while len(clips) < n_clips:  # the same few files again: decode cost does not change
        clips.append((f"clip{len(clips)}", clips[len(clips) % 4][1], clips[len(clips) % 4][2]))
    decode_wall, decode_cpu = [], []
    for _, mp4, wav in clips[: min(len(clips), 3)]:
        t0, c0 = time.perf_counter(), time.process_time()
        decode_clip(mp4, wav)
        decode_wall.append(time.perf_counter() - t0)
        decode_cpu.append(time.process_time() - c0)
    out: dict[str, Any] = {
        "clips": n_clips,
        "decoder": decoder_description(),
        # in this process, before the runs (the runs report the decode processes' own figures)
        "decode_wall_s_per_clip": statistics.median(decode_wall),
        "decode_cpu_s_per_clip": statistics.median(decode_cpu),
        "visual": "resnet18" if args.smoke else "vgg19",
        "by_workers": {},
    }
    cores = available_cores()
    # decode worker processes 1..N (N = the cores; past that they only queue for a core)
    workers = [1] if args.smoke else [w for w in (1, 2, 4, 8, 12, 15) if w <= max(1, cores)]
    dtype = "bfloat16"
    for w in workers:
        options = ExtractorOptions(device=args.device, dtype=dtype, visual=out["visual"],
                                   allow_random_weights=True, decode_workers=w,
                                   prefetch_clips=max(2, 2 * w),
                                   decoder=decoder_description())  # fmt: skip
        ex = Extractor.from_options(options)
        feats = tmp / f"features-{w}"
        results: list[ClipResult] = []

        def on_done(r: ClipResult, feats: Path = feats, ex: Extractor = ex,
                    results: list[ClipResult] = results) -> None:  # fmt: skip
            if r.error is not None:
                raise RuntimeError(f"{r.clip_id}: {r.error}")
            assert r.visual is not None and r.audio is not None
            write_features(feature_path(feats, "bench", r.clip_id), r.visual, r.audio,
                           ex.provenance)  # fmt: skip
            results.append(r)

        ex.extract_many(clips[:1], decode_clip, on_done)  # warm-up
        results.clear()
        _sync(args.device)
        t0, c0 = time.perf_counter(), time.process_time()
        summary = ex.extract_many(clips, decode_clip, on_done)
        _sync(args.device)
        wall, parent_cpu = time.perf_counter() - t0, time.process_time() - c0
        compute_per_clip = summary.compute_s / max(1, summary.n_ok)
        decode_wall = statistics.median(r.decode_s for r in results)
        decode_rate = w / decode_wall  # what w decode processes can feed, clips/s
        out["by_workers"][str(w)] = {
            "clips_per_s": n_clips / wall,
            "compute_s_per_clip": compute_per_clip,
            "compute_only_clips_per_s": 1 / compute_per_clip if compute_per_clip else None,
            # measured inside the decode processes (all their threads), per clip
            "decode_cpu_s_per_clip": statistics.median(r.decode_cpu_s for r in results),
            "decode_wall_s_per_clip": decode_wall,
            "decode_feed_clips_per_s": decode_rate,
            # the feeding process: receiving, compute launches, feature files (not decoding)
            "parent_cpu_s_per_clip": parent_cpu / n_clips,
            "limited_by": "decode" if decode_rate < 1 / max(compute_per_clip, 1e-9) else "compute",
        }
        print("extract", w, json.dumps(out["by_workers"][str(w)]), flush=True)
        shutil.rmtree(feats, ignore_errors=True)
    best = max(out["by_workers"].values(), key=lambda r: r["clips_per_s"])
    # cores one device needs (docs/features.md): decode processes to feed its compute-only
    # rate R at the measured decode CPU cost d per clip, plus one for the feeding process,
    # R x d + 1; and how much of its one core the feeding process used at that rate
    if best["compute_only_clips_per_s"]:
        rate = best["compute_only_clips_per_s"]
        out["cores_to_feed_one_device"] = rate * best["decode_cpu_s_per_clip"] + 1.0
        out["feeding_process_cores_at_that_rate"] = rate * best["parent_cpu_s_per_clip"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--smoke", action="store_true",
                        default=os.environ.get("AVEL_BENCH_SMOKE") == "1")  # fmt: skip
    parser.add_argument("--sections", nargs="*", default=list(SECTIONS), choices=SECTIONS)
    parser.add_argument("--psp-epochs", type=int, default=None)
    parser.add_argument("--stage2-epochs", type=int, default=None)
    parser.add_argument("--extract-clips", type=int, default=32)
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    if args.psp_epochs is None:
        args.psp_epochs = 1 if args.smoke else 6
    if args.stage2_epochs is None:
        args.stage2_epochs = 1 if args.smoke else 2
    if args.device.startswith("cuda"):  # deterministic kernels for the resume check
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    prefix = "gpu_smoke" if args.smoke else "gpu"
    meta = {
        "device": args.device,
        "device_name": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
        "torch": torch.__version__,
        "smoke": args.smoke,
        "cpu_count": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # `timeout`: still clean up
    tmp = Path(tempfile.mkdtemp(prefix="avel-bench-gpu-"))
    try:
        root = write_synthetic_ave(tmp / "ave", _spec(args.smoke))
        for section in args.sections:
            t0 = time.perf_counter()
            work = tmp / section
            work.mkdir()
            if section == "extract":
                result = section_extract(args, work)
            else:
                fn = {"train": section_train, "resume": section_resume,
                      "predict": section_predict}[section]  # fmt: skip
                result = fn(args, root, work)
            result = {**meta, "section": section, "section_wall_s": time.perf_counter() - t0,
                      "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"), **result}  # fmt: skip
            path = args.out_dir / f"{prefix}_{section}.json"
            path.write_text(json.dumps(result, indent=1) + "\n")
            print(f"{section}: {result['section_wall_s']:.1f} s -> {path}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

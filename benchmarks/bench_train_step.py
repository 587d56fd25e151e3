"""CPSP training speed, bf16 vs float32 accuracy, and streaming memory on this machine.

Writes ``benchmarks/results/train_step.json``:

- ``step``: seconds per training step at batch 128 (forward + backward + clip + Adam, fully
  setting, event-category head, L_fully), float32 and bfloat16 autocast; median and min of timed
  steps after warm-up, and CPU seconds per step. On a shared machine the min is the closest to
  the uncontended time.
- ``step_ratio``: float32 and bf16 steps interleaved in one process at one thread and at all
  threads, medians of wall and CPU seconds and the float32/bf16 ratio (issue 14), plus the
  dominant GEMM alone in both precisions and whether the CPU has AMX (the ratio's ceiling).
- ``accuracy``: test segment accuracy on the synthetic AVE-layout set after the same training
  run in float32 and in bf16 autocast.
- ``streaming``: peak RSS (``ru_maxrss`` of a fresh child process) of one bf16 training epoch
  over a generated float16 dataset of several GB, plus the RSS trace sampled during the epoch.

Usage: ``.venv/bin/python benchmarks/bench_train_step.py [--quick] [--stream-gb 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

from avel_annotate.model import CPSPNet, ModelConfig
from avel_annotate.model.checkpoint import load_checkpoint
from avel_annotate.model.data import AveH5Dataset, batch_indices, iter_batches
from avel_annotate.model.evaluate import evaluate
from avel_annotate.model.synthetic import SyntheticSpec, write_synthetic_ave
from avel_annotate.model.train import TrainConfig, train, train_step

RESULTS = Path(__file__).parent / "results" / "train_step.json"
TERMS = ("head", "avpsp")


def bench_step(bf16: bool, n_steps: int, batch: int = 128) -> dict[str, object]:
    torch.manual_seed(0)
    model = CPSPNet(ModelConfig())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    audio = torch.randn(batch, 10, 128)
    visual = torch.rand(batch, 10, 7, 7, 512)
    labels = torch.randint(0, 29, (batch, 10))
    category = torch.randint(0, 28, (batch,))
    tc = TrainConfig(bf16=bf16)
    times, cpu = [], []
    for i in range(n_steps + 2):
        t0, c0 = time.perf_counter(), time.process_time()
        train_step(model, opt, audio, visual, labels, category, TERMS, tc)
        if i >= 2:  # warm-up
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        # CPU seconds per step summed over threads: less sensitive to other jobs on the box
        "median_cpu_s": statistics.median(cpu),
        "n_steps": n_steps,
        "batch_size": batch,
    }


def bench_step_ratio(n_steps: int, threads: int, batch: int = 128) -> dict[str, object]:
    """float32 and bf16 steps interleaved in one process (same inputs, same seed): medians of
    wall and CPU seconds and the float32 / bf16 ratios (the figure issue 14 asks for)."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    audio = torch.randn(batch, 10, 128)
    visual = torch.rand(batch, 10, 7, 7, 512)
    labels = torch.randint(0, 29, (batch, 10))
    category = torch.randint(0, 28, (batch,))
    setups = {}
    for name, bf16 in (("float32", False), ("bf16", True)):
        torch.manual_seed(0)
        model = CPSPNet(ModelConfig())
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        vis = visual.to(torch.bfloat16) if bf16 else visual  # as the loop hands it over
        setups[name] = (model, opt, vis, TrainConfig(bf16=bf16))
        for _ in range(2):  # warm-up
            train_step(model, opt, audio, vis, labels, category, TERMS, setups[name][3])
    wall: dict[str, list[float]] = {k: [] for k in setups}
    cpu: dict[str, list[float]] = {k: [] for k in setups}
    for _ in range(n_steps):
        for name, (model, opt, vis, tc) in setups.items():
            t0, c0 = time.perf_counter(), time.process_time()
            train_step(model, opt, audio, vis, labels, category, TERMS, tc)
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    med = {k: statistics.median(v) for k, v in wall.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    return {
        "threads": threads,
        "n_steps": n_steps,
        "batch_size": batch,
        "median_wall_s": med,
        "median_cpu_s": med_cpu,
        "ratio_wall": med["float32"] / med["bf16"],
        "ratio_cpu": med_cpu["float32"] / med_cpu["bf16"],
    }


def gemm_ceiling(threads: int) -> dict[str, object]:
    """The step's dominant GEMM (AVGA region_hidden, [B*T*49, 512] x [512, 512]) in float32
    and bf16: the bf16 speed-up of the step cannot exceed much the speed-up of its GEMMs."""
    torch.set_num_threads(threads)
    x = torch.rand(128 * 10 * 49, 512)
    w = torch.rand(512, 512)
    out = {}
    for name, (a, b) in {"float32": (x, w), "bf16": (x.bfloat16(), w.bfloat16())}.items():
        torch.nn.functional.linear(a, b)
        ts = []
        for _ in range(3):
            c0 = time.process_time()
            torch.nn.functional.linear(a, b)
            ts.append(time.process_time() - c0)
        out[name] = min(ts)
    flags = Path("/proc/cpuinfo").read_text()
    return {
        "cpu_s": out,
        "ratio": out["float32"] / out["bf16"],
        "gflop": 2 * x.shape[0] * 512 * 512 / 1e9,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "amx_tile": "amx_tile" in flags,
        "avx512_bf16": "avx512_bf16" in flags,
    }


def bench_accuracy(tmp: Path, quick: bool, seeds: int = 3) -> dict[str, object]:
    """float32 vs bf16 training on the same synthetic data, over several seeds.

    One run per precision says little (a seed moves test accuracy by several points on a set
    this small); the mean and spread over seeds say whether bf16 changes the result.
    """
    spec = SyntheticSpec(n_train=240, n_val=60, n_test=120, n_categories=4, seed=3)
    root = write_synthetic_ave(tmp / "acc", spec)
    data = {s: AveH5Dataset(root, s) for s in ("train", "val", "test")}
    out: dict[str, object] = {"spec": spec.__dict__}
    labels = data["test"].labels()
    out["constant_guess_accuracy"] = float(np.bincount(labels.ravel()).max() / labels.size)
    means: dict[str, float] = {}
    spreads: dict[str, float] = {}
    for name, bf16 in (("float32", False), ("bf16", True)):
        runs = []
        for seed in range(seeds):
            tc = TrainConfig(
                seed=seed,
                batch_size=32,
                psp_epochs=3 if quick else 8,
                psa_s_epochs=1 if quick else 2,
                psa_v_epochs=1 if quick else 2,
                milestones=(6,),
                bf16=bf16,
            )
            t0 = time.perf_counter()
            result = train(
                ModelConfig(n_categories=4), data["train"], data["val"], tmp / f"{name}-{seed}", tc
            )
            model, _ = load_checkpoint(result.best_checkpoint)
            report = evaluate(model, data["test"]).report
            runs.append(
                {
                    "seed": seed,
                    "test_accuracy": report.accuracy,
                    "val_accuracy": result.best_val_accuracy,
                    "best_stage": result.best_stage,
                    "train_seconds": time.perf_counter() - t0,
                    "epochs": tc.psp_epochs + tc.psa_s_epochs + tc.psa_v_epochs,
                }
            )
        acc = np.array([r["test_accuracy"] for r in runs])
        means[name] = float(acc.mean())
        spreads[name] = float(acc.std(ddof=1)) if len(acc) > 1 else 0.0
        out[name] = {
            "test_accuracy_mean": means[name],
            "test_accuracy_std": spreads[name],
            "runs": runs,
        }
    diff = abs(means["float32"] - means["bf16"])
    out["mean_difference"] = diff
    out["within_noise"] = bool(seeds > 1 and diff <= 2 * max(spreads.values()))
    return out


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def stream_epoch_child(root: str) -> None:
    """One bf16 training epoch over every clip of ``root`` (run in a fresh process)."""
    trace: list[tuple[float, float]] = []
    stop = threading.Event()
    t0 = time.perf_counter()

    def sample() -> None:
        while not stop.is_set():
            trace.append((round(time.perf_counter() - t0, 2), round(_rss_mb(), 1)))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    data = AveH5Dataset(root, split=None)
    model = CPSPNet(ModelConfig(n_categories=data.n_categories))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    tc = TrainConfig(bf16=True)
    batches = batch_indices(np.arange(len(data)), 128, shuffle=True, seed=0)
    n = 0
    for batch in iter_batches(data, batches):
        train_step(model, opt, batch.audio, batch.visual, batch.segment_labels, batch.category,
                   TERMS, tc)  # fmt: skip
        n += len(batch.index)
    stop.set()
    sampler.join()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    json.dump(
        {"clips": n, "seconds": time.perf_counter() - t0, "peak_rss_mb": peak_mb,
         "rss_trace_mb": trace},
        sys.stdout,
    )  # fmt: skip


def bench_streaming(tmp: Path, gigabytes: float) -> dict[str, object]:
    n_clips = int(gigabytes * 1024**3 / (10 * 49 * 512 * 2))  # float16 visual dominates
    root = tmp / "stream"
    t0 = time.perf_counter()
    spec = SyntheticSpec(n_train=n_clips, n_val=0, n_test=0, n_categories=28, seed=1)
    write_synthetic_ave(root, spec)
    gen_s = time.perf_counter() - t0
    disk = sum(p.stat().st_size for p in root.iterdir())
    child = subprocess.run(
        [sys.executable, __file__, "--stream-child", str(root)],
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(child.stdout)
    trace = result.pop("rss_trace_mb")
    rss = [r for _, r in trace]
    half = len(rss) // 2
    return {
        "dataset_bytes_on_disk": disk,
        "dataset_gb": round(disk / 1024**3, 2),
        "n_clips": n_clips,
        "generate_seconds": gen_s,
        **result,
        "rss_first_half_max_mb": max(rss[:half]) if half else None,
        "rss_second_half_max_mb": max(rss[half:]) if rss else None,
        "rss_trace_mb": trace[:: max(1, len(trace) // 60)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer steps and epochs")
    parser.add_argument("--stream-gb", type=float, default=3.0)
    parser.add_argument("--seeds", type=int, default=3, help="training runs per precision")
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["step", "ratio", "accuracy", "stream"]
    )
    parser.add_argument("--stream-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stream_child:
        stream_epoch_child(args.stream_child)
        return
    results: dict[str, object] = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "n_cpus": os.cpu_count(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "amx": "amx_bf16" in Path("/proc/cpuinfo").read_text(),
            "load_average_at_start": os.getloadavg(),
            "note": "2-core machine; load average at start is recorded above",
        },
        "reference_authors_code_s_per_step": {"float64": 7.7, "float32": 1.9},
        "target_s_per_step": 0.6,
    }
    if RESULTS.is_file():  # keep sections not rerun
        previous = json.loads(RESULTS.read_text())
        results = {**previous, **results}
    n_steps = 3 if args.quick else 8
    if "step" not in args.skip:
        results["step"] = {"float32": bench_step(False, n_steps), "bf16": bench_step(True, n_steps)}
        print(json.dumps(results["step"], indent=1), flush=True)
    if "ratio" not in args.skip:  # interleaved, at 1 thread (steadier when shared) and all
        results["step_ratio"] = {
            "one_thread": bench_step_ratio(n_steps, 1),
            "all_threads": bench_step_ratio(n_steps, os.cpu_count() or 1),
            "gemm_one_thread": gemm_ceiling(1),
            "load_average": os.getloadavg(),
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        print(json.dumps(results["step_ratio"], indent=1), flush=True)
    with tempfile.TemporaryDirectory(prefix="avel-bench-") as tmpdir:
        tmp = Path(tmpdir)
        if "accuracy" not in args.skip:
            results["accuracy"] = bench_accuracy(tmp, args.quick, args.seeds)
            print(json.dumps(results["accuracy"], indent=1), flush=True)
        if "stream" not in args.skip:
            results["streaming"] = bench_streaming(tmp, args.stream_gb)
            summary = {k: v for k, v in results["streaming"].items() if k != "rss_trace_mb"}
            print(json.dumps(summary, indent=1), flush=True)
    results["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()

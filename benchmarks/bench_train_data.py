"""Training-data delivery: per-clip ``.npz`` files vs the packed feature cache.

Writes ``benchmarks/results/train_data.json``: clips/s delivered to the training loop and the
peak RSS of a fresh process per pass, for

- ``npz``: ``FeatureFileDataset`` (one ``.npz`` per clip, float32 out), shuffled batches
  over the first ``--npz-clips`` files (the others are dropped from the page cache so the
  cache fits in RAM beside them);
- ``cache``: ``PackedClipDataset`` with its own epoch plan (runs of rows, memory-mapped
  windows populated by the prefetch thread), float16 out as the loop receives it;
- ``cache_f32``: the same plus the float32 cast the CPU training loop does (a GPU does it on
  the device instead);
- ``cache_random``: the cache read with fully random batches (gathered with ``preadv``, a
  copy: what any reader that copies, h5py included, is bound by);
- ``cache_rowwrites`` (``--compare-row-writes``): ``cache`` over a second copy of the cache
  written the way the writer did before (one ``write()`` per 0.5 MB row instead of 32 MB
  pieces), side by side: the page cache then holds it in small folios and mapping a batch
  costs ~10x more (the ~9 ms/batch of the first measurement);
- ``cache_cold``: ``cache`` right after the cache files were dropped from the page cache
  (``POSIX_FADV_DONTNEED``): read from the disk, the honest cold figure.

The data set (default 20,000 clips, 0.5 MB each in float16, ~10 GB per copy) is generated in
a temporary folder under /tmp and deleted afterwards (also on SIGTERM). The npz pass reads a
fixed number of clips (it is slow); the cache passes read every clip. Wall-clock rates on a
shared 2-core box swing with the load; ``clips_per_cpu_s`` (clips per CPU-second of the
reading process) is the steadier figure. Passes are repeated interleaved and the
medians quoted: the machine is shared. ``steady_*`` count from the end of each pass's first
batch (a pass of 6,000 cached clips lasts ~0.3 s, so its start-up weighs on the whole-pass rate).

Usage: ``.venv/bin/python benchmarks/bench_train_data.py [--clips 20000] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "train_data.json"
CATS = ["a", "b", "c", "d"]


def _items(root: Path, n: int) -> list:  # type: ignore[type-arg]
    from avel_annotate.store.models import LabelledFeatures

    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        seg = "1" * 10 if i % 3 == 0 else "".join(rng.choice(["0", "1"], 10))
        cat = None if seg == "0" * 10 else CATS[i % 4]
        out.append(LabelledFeatures(f"c{i:08d}_000000", f"features/bench/{i % 97:02d}/"
                                    f"c{i:08d}_000000.npz", True, seg, cat, "list"))  # fmt: skip
    return out


def generate(root: Path, n: int) -> float:
    """n feature files in the store layout (the writer's format, without its per-file fsync)."""
    from avel_annotate.features.provenance import Provenance

    prov = Provenance("bench", "none", "random", "none", "random", True, "none", "none",
                      "float16", 16).to_json()  # fmt: skip
    rng = np.random.default_rng(1)
    base_v = rng.normal(size=(16, 10, 7, 7, 512)).astype(np.float16)
    base_a = rng.normal(size=(16, 10, 128)).astype(np.float16)
    t0 = time.perf_counter()
    for i, item in enumerate(_items(root, n)):
        path = root / item.feature_path
        path.parent.mkdir(parents=True, exist_ok=True)
        visual = base_v[i % 16].copy()
        visual[0, 0, 0, :8] = np.frombuffer(np.int64(i).tobytes(), np.float16)[:4].repeat(2)
        with open(path, "wb") as f:
            np.savez(f, visual=visual, audio=base_a[i % 16], provenance=np.array(prov))
    return time.perf_counter() - t0


def child(mode: str, root: Path, n: int, npz_clips: int) -> None:
    """One pass in a fresh process; prints clips, seconds and ru_maxrss."""
    import torch

    from avel_annotate.model.data import batch_indices, iter_batches
    from avel_annotate.model.packed import PackedClipDataset
    from avel_annotate.services.training_data import feature_file_dataset

    torch.set_num_threads(1)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if mode == "npz":
        data = feature_file_dataset(_items(root, n), root, CATS, allow_random=True)
        # shuffled batches over the first npz_clips files (the rest left the page cache)
        batches = batch_indices(np.arange(npz_clips), 128, shuffle=True, seed=0)
    else:
        label = "list-rowwrites" if mode == "cache_rowwrites" else "list"
        data = PackedClipDataset(root / f"features/bench/_packed/train-{label}")
        if mode == "cache_random":
            batches = batch_indices(np.arange(len(data)), 128, shuffle=True, seed=0)
        else:
            batches = data.epoch_batches(np.arange(len(data)), 128, seed=0)
    t0, c0 = time.perf_counter(), time.process_time()
    clips = 0
    check = 0.0
    for i, batch in enumerate(iter_batches(data, batches)):
        visual = batch.visual
        if mode == "cache_f32":
            visual = visual.to(torch.float32)
        check += float(visual[-1, -1, -1, -1, -1])  # the last byte of the batch is there
        clips += len(batch.index)
        if i == 0:  # steady state: after the first batch (thread start, torch's lazy init)
            t1, c1, clips1 = time.perf_counter(), time.process_time(), clips
    t_end, c_end = time.perf_counter(), time.process_time()
    seconds, cpu = t_end - t0, c_end - c0
    steady = clips - clips1
    json.dump({"mode": mode, "clips": clips, "seconds": seconds, "clips_per_s": clips / seconds,
               "cpu_seconds": cpu, "clips_per_cpu_s": clips / max(cpu, 1e-9),
               "steady_clips_per_s": steady / max(t_end - t1, 1e-9),
               "steady_clips_per_cpu_s": steady / max(c_end - c1, 1e-9),
               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               "rss_before_reading_mb": rss0}, sys.stdout)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", type=int, default=20000)
    parser.add_argument("--npz-clips", type=int, default=2560, help="npz files read per npz pass")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compare-row-writes", action="store_true",
                        help="also build the cache one row per write (the old writer)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, root, n, npz = args.child
        child(mode, Path(root), int(n), int(npz))
        return

    from avel_annotate.services.feature_cache import cache_folder, packed_dataset
    from avel_annotate.services.training_data import feature_file_dataset

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so the data is deleted
    tmp = Path(tempfile.mkdtemp(prefix="avel-bench-data-", dir="/tmp"))
    result: dict[str, object] = {
        "n_clips": args.clips,
        "npz_clips_per_pass": args.npz_clips,
        "batch_size": 128,
        "n_cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "memory_total_gb": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3,
    }
    try:
        result["generate_seconds"] = generate(tmp, args.clips)
        source = feature_file_dataset(_items(tmp, args.clips), tmp, CATS, allow_random=True)
        folder = cache_folder(tmp / "features", "bench", "train", "list")
        t0 = time.perf_counter()
        _, built = packed_dataset(source, folder)
        result["cache_build_seconds"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        _, built_again = packed_dataset(source, folder)
        result["cache_reuse_check_seconds"] = time.perf_counter() - t0
        assert built and not built_again
        result["cache_bytes"] = sum(p.stat().st_size for p in folder.iterdir())
        modes = ["npz", "cache", "cache_f32", "cache_random", "cache_cold"]
        if args.compare_row_writes:
            from avel_annotate.model import packed

            chunk = packed.WRITE_CHUNK_BYTES
            packed.WRITE_CHUNK_BYTES = 1  # one row per write(), as the writer did before
            try:
                packed_dataset(source, cache_folder(tmp / "features", "bench", "train",
                                                    "list-rowwrites"))  # fmt: skip
            finally:
                packed.WRITE_CHUNK_BYTES = chunk
            modes.insert(2, "cache_rowwrites")
        # Memory: 20k clips are ~10 GB per copy. Keep the npz files the npz pass reads and
        # the cache in the page cache; drop the other npz files from it (they stay on disk).
        for path in source.paths[args.npz_clips :]:
            fd = os.open(path, os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)
        result["npz_bytes_per_clip"] = source.paths[0].stat().st_size
        runs: dict[str, list[dict[str, float]]] = {}
        for _ in range(args.repeats):
            for mode in modes:
                if mode == "cache_cold":
                    for path in folder.iterdir():
                        fd = os.open(path, os.O_RDONLY)
                        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                        os.close(fd)
                out = subprocess.run(
                    [sys.executable, __file__, "--child", mode, str(tmp), str(args.clips),
                     str(args.npz_clips)],
                    check=True, capture_output=True, text=True,
                )  # fmt: skip
                run = json.loads(out.stdout)
                runs.setdefault(mode, []).append(run)
                print(json.dumps(run), flush=True)
        summary = {}
        for mode, rs in runs.items():
            summary[mode] = {
                "clips_per_s_median": statistics.median(r["clips_per_s"] for r in rs),
                # after each pass's first batch (its start-up is not a per-clip cost)
                "steady_clips_per_s_median": statistics.median(r["steady_clips_per_s"] for r in rs),
                "steady_clips_per_s_runs": [round(r["steady_clips_per_s"]) for r in rs],
                "steady_clips_per_cpu_s_median": statistics.median(
                    r["steady_clips_per_cpu_s"] for r in rs
                ),
                "clips_per_s_runs": [round(r["clips_per_s"], 1) for r in rs],
                # CPU seconds of the reading process (all threads): what contention hides
                "clips_per_cpu_s_median": statistics.median(r["clips_per_cpu_s"] for r in rs),
                "peak_rss_mb_max": max(r["peak_rss_mb"] for r in rs),
                "clips_per_pass": rs[0]["clips"],
            }
        base = summary["npz"]["clips_per_s_median"]
        for mode in summary:
            summary[mode]["vs_npz"] = summary[mode]["clips_per_s_median"] / base
        result["summary"] = summary
        result["runs"] = runs
        result["target_clips_per_s"] = 20000
        result["target_met"] = summary["cache"]["clips_per_s_median"] >= 20000
        result["target_met_steady"] = summary["cache"]["steady_clips_per_s_median"] >= 20000
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result["load_average_at_end"] = os.getloadavg()
    result["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["summary"], indent=1))


if __name__ == "__main__":
    main()

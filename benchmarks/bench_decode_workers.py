"""Decode rate with 0..N decode worker processes -> ``benchmarks/results/decode_workers.json``.

Decode only (no model): ``features.decode_pool.iter_decoded`` with the real
``media.decode.decode_clip`` over generated 640x360 25 fps 10-s H.264 clips (as
``bench_features``), ``workers = 0`` (a thread of this process, the reference) and 1..N processes,
the configurations interleaved round by round (the machine is shared and noisy), medians quoted:

- ``clips_per_s``: decoded clips delivered to the consumer per second of wall time, in steady
  state (counted after each worker delivered its first clip; ``start_s`` is that start-up);
- ``decode_cpu_s_per_clip``: CPU seconds the decoding process spent per clip (all its threads;
  measured inside the worker);
- ``parent_cpu_s_per_clip``: CPU seconds the *consuming* process spent per clip on receiving it
  (pipe + unpickling the 24 MB of frames) - what the process feeding the GPU pays per clip.

    .venv/bin/python benchmarks/bench_decode_workers.py [--clips 8] [--rounds 3] [--max-workers 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

from avel_annotate.features.decode_pool import available_cores, iter_decoded
from avel_annotate.media.decode import decode_clip, decoder_description

sys.path.insert(0, str(Path(__file__).parent))
from bench_features import make_clip

RESULTS = Path(__file__).resolve().parent / "results" / "decode_workers.json"


def one_run(clips: list[tuple[str, Path, Path]], workers: int) -> dict[str, float]:
    """Steady state: the first ``workers`` clips (one per worker) only warm the pool up
    (process start, imports); the rate counts the clips after them."""
    decode = partial(decode_clip, frames_per_second=16)
    warm = max(1, workers)
    cpu = []
    t_start = time.perf_counter()
    for i, d in enumerate(iter_decoded(clips, decode, workers=workers,
                                       lookahead=max(2, workers + 1))):  # fmt: skip
        if d.error is not None:
            raise RuntimeError(f"{d.clip_id}: {d.error}")
        if i == warm - 1:
            t0, c0 = time.perf_counter(), time.process_time()
            first_s = t0 - t_start
        elif i >= warm:
            cpu.append(d.cpu_s)
    wall, parent = time.perf_counter() - t0, time.process_time() - c0
    n = len(cpu)
    # workers == 0: the parent *is* the decoder; its receive cost is what is left over
    parent_recv = parent - (sum(cpu) if workers == 0 else 0.0)
    return {
        "clips_per_s": n / wall,
        "decode_cpu_s_per_clip": statistics.median(cpu),
        "parent_cpu_s_per_clip": max(0.0, parent_recv) / n,
        "start_s": first_s,  # to the first `workers` clips: start-up + one decode
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-workers", type=int, default=max(2, available_cores() + 1))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    configs = list(range(0, args.max_workers + 1))
    with tempfile.TemporaryDirectory(prefix="avel-bench-decode-") as tmp:
        files = [make_clip(Path(tmp), i) for i in range(4)]
        n = args.clips + args.max_workers  # steady-state clips + the warm-up ones
        clips = [(f"c{i}", files[i % 4][1], files[i % 4][2]) for i in range(n)]
        runs: dict[int, list[dict[str, float]]] = {w: [] for w in configs}
        for r in range(args.rounds):
            for w in configs if r % 2 == 0 else reversed(configs):
                runs[w].append(one_run(clips, w))
                print(r, w, json.dumps(runs[w][-1]), flush=True)
    out = {
        "decoder": decoder_description(),
        "cores": available_cores(),
        "load_average_at_end": os.getloadavg(),
        "clips_per_run": args.clips,
        "rounds": args.rounds,
        "clip": "640x360 25 fps 10 s H.264 (libx264 veryfast crf 23) + 16 kHz wav, 160 frames",
        "by_workers": {
            str(w): {k: statistics.median(x[k] for x in runs[w]) for k in runs[w][0]}
            | {"runs": runs[w]}
            for w in configs
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({w: {k: round(v, 3) for k, v in r.items() if k != "runs"}
                      for w, r in out["by_workers"].items()}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()

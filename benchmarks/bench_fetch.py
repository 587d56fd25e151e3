"""Fetch benchmark: CPU cost of the ffmpeg processing per clip, and clips/min end to end.

1. ``normalise_cpu_s``: the one-pass ffmpeg normalise of a 10-s 360p (640x360, 25 fps) section,
   measured as children's user+sys CPU time (``resource.getrusage(RUSAGE_CHILDREN)``), median of
   ``--repeats``. Also the section download (yt-dlp + ffmpeg re-encode at the cuts) for context.
2. ``end_to_end``: ``fetch_clips`` over N clips from a local Range server (20-s 360p sources,
   ``start_s=5``, SQLite store) with 1, 2 and 4 workers: clips/min.

Run: ``.venv/bin/python benchmarks/bench_fetch.py`` (writes benchmarks/results/fetch.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avel_annotate.config import load_settings
from avel_annotate.media import download as dl
from avel_annotate.media import normalise as nm
from avel_annotate.media import probe as pr
from avel_annotate.media.http_server import RangeServer
from avel_annotate.services.fetch import FetchOptions, fetch_clips
from avel_annotate.services.store import open_store
from tests.helpers.media import make_source

RESULTS = Path(__file__).resolve().parent / "results" / "fetch.json"


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def bench_processing(server: RangeServer, work: Path, repeats: int) -> dict[str, object]:
    dl_cpu, norm_cpu, norm_wall = [], [], []
    for i in range(repeats):
        w = work / f"p{i}"
        c0 = _child_cpu()
        got = dl.download_source(
            server.url("source00000.mp4"), w, "src", clip_id="bench",
            section=(5.0, 15.0), opts=dl.DownloadOptions(),
        )  # fmt: skip
        c1 = _child_cpu()
        info = pr.probe_media(got.path, "bench")
        c2, t2 = _child_cpu(), time.perf_counter()
        nm.normalise(got.path, w / "o.mp4", w / "o.wav", clip_id="bench", fps=25)
        c3, t3 = _child_cpu(), time.perf_counter()
        pr.verify_clip(w / "o.mp4", w / "o.wav", "bench")
        dl_cpu.append(c1 - c0)
        norm_cpu.append(c3 - c2)
        norm_wall.append(t3 - t2)
        assert info.height == 360
    return {
        "source": "640x360 25 fps H.264 + AAC, 10-s section",
        "normalise_cpu_s_median": round(statistics.median(norm_cpu), 3),
        "normalise_cpu_s_all": [round(x, 3) for x in norm_cpu],
        "normalise_wall_s_median": round(statistics.median(norm_wall), 3),
        "section_download_child_cpu_s_median": round(statistics.median(dl_cpu), 3),
        "target_normalise_cpu_s": 1.0,
    }


def bench_end_to_end(
    server: RangeServer, work: Path, n_clips: int, workers: int
) -> dict[str, float]:
    data = work / f"e2e-{workers}"
    settings = load_settings(data_dir=data, overrides={"progress": False}, environ={})
    csv = work / f"list-{workers}.csv"
    csv.write_text("".join(f'source{i:05d},5,"bench",train\n' for i in range(n_clips)))
    c0, t0 = _child_cpu(), time.perf_counter()
    with open_store(settings) as store:
        report = fetch_clips(
            store,
            settings,
            FetchOptions(url_template=server.base_url + "/{ytid}.mp4", workers=workers),
            csv_path=csv,
        )
    wall = time.perf_counter() - t0
    assert report.fetched == n_clips, report
    return {
        "workers": workers,
        "clips": n_clips,
        "wall_s": round(wall, 2),
        "clips_per_min": round(n_clips / wall * 60, 1),
        "child_cpu_s_per_clip": round((_child_cpu() - c0) / n_clips, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-fetch-"))
    try:
        served = work / "served"
        first = make_source(served / "source00000.mp4", 20, size="640x360", gop=50)
        for i in range(1, args.clips):
            shutil.copy(first, served / f"source{i:05d}.mp4")
        with RangeServer(served) as server:
            processing = bench_processing(server, work, args.repeats)
            e2e = [bench_end_to_end(server, work, args.clips, w) for w in (1, 2, 4)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "benchmark": "fetch",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "processing": processing,
        "end_to_end_local_server": e2e,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

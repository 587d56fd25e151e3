"""Import of a full-size VGGSound list (199,467 rows, 309 labels) into a fresh store.

Target (issue 2): under 30 s on the 2-core development machine. Writes
benchmarks/results/import.json. Usage:
    python benchmarks/bench_import.py [--rows 199467] [--db URL]   # default: a temp SQLite file
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import string
import tempfile
import time
from pathlib import Path

from avel_annotate.config import load_settings
from avel_annotate.services.clips import clip_stats, import_clip_list
from avel_annotate.services.store import open_store

ID_CHARS = string.ascii_letters + string.digits + "-_"


def make_list(path: Path, rows: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    labels = [f"sound class {i}" for i in range(300)] + [
        f'"class {i}, with a comma"' for i in range(9)
    ]
    seen: set[tuple[str, int]] = set()
    with path.open("w", newline="") as fh:
        while len(seen) < rows:
            ytid = "".join(rng.choice(ID_CHARS) for _ in range(11))
            start = rng.randrange(0, 600)
            if (ytid, start) in seen:
                continue
            seen.add((ytid, start))
            split = "test" if rng.random() < 0.078 else "train"
            fh.write(f"{ytid},{start},{rng.choice(labels)},{split}\r\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=199_467)
    parser.add_argument("--db", default=None)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "import.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        csv_path = Path(tmp) / "vggsound.csv"
        make_list(csv_path, args.rows)
        settings = load_settings(data_dir=data_dir, db_url=args.db, overrides={"progress": False})
        with open_store(settings) as store:
            t0 = time.perf_counter()
            report = import_clip_list(store, settings, csv_path)
            first_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            again = import_clip_list(store, settings, csv_path)
            reimport_s = time.perf_counter() - t0
            stats = clip_stats(store)
    result = {
        "benchmark": "clip-list import",
        "rows": args.rows,
        "backend": (args.db or "sqlite").split(":")[0],
        "import_s": round(first_s, 2),
        "reimport_noop_s": round(reimport_s, 2),
        "rows_per_s": round(args.rows / first_s),
        "clips_new": report.clips_new,
        "categories_new": report.categories_new,
        "reimport_unchanged": again.clips_unchanged,
        "stored_total": stats.total,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "target_s": 30,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

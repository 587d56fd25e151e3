"""Push 10,000 tasks to a local Label Studio and pull 10,000 annotations back.

Starts its own server on a fresh data dir (migrations are not timed), inserts N fetched clips
into a fresh SQLite store, times ``annotate.push``; then imports a second project of N tasks
with one annotation each (set-up, not timed) and times ``annotate.pull`` of it.
Target: each under 60 s.

    .venv/bin/python benchmarks/bench_labelstudio.py [--n 10000] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import tempfile
import time
from pathlib import Path

from label_studio_sdk import LabelStudio
from sqlalchemy import insert

from avel_annotate.config import load_settings
from avel_annotate.domain.ls_results import labels_to_result
from avel_annotate.labelstudio.client import LsClient
from avel_annotate.labelstudio.server import start_server
from avel_annotate.services import annotate
from avel_annotate.services.annotate import PushOptions
from avel_annotate.services.store import open_store
from avel_annotate.store import annotations as q
from avel_annotate.store.clips import ensure_categories
from avel_annotate.store.tables import Clip

TARGET_S = 60.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/labelstudio.json"))
    args = parser.parse_args()
    token = secrets.token_hex(20)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "avel-data"
        settings = load_settings(data_dir=data_dir, overrides={"progress": False}, environ={})
        t0 = time.perf_counter()
        server = start_server(
            Path(tmp) / "ls",
            data_dir,
            token=token,
            username="admin@avel.local",
            password=secrets.token_urlsafe(12),
        )
        start_s = time.perf_counter() - t0
        try:
            settings = settings.with_(ls_url=server.url, ls_api_key=token)
            with open_store(settings) as opened, opened.session() as s:
                cats = ensure_categories(s, ["dog", "cat", "car"])
                media = data_dir / "clips" / "bench.mp4"
                media.parent.mkdir(parents=True, exist_ok=True)
                media.write_bytes(bytes(64))
                rows = [
                    {
                        "clip_id": f"b{i:010d}_000000",
                        "ytid": f"b{i:010d}",
                        "start_s": 0,
                        "source_format": "vggsound",
                        "source_file": "bench",
                        "source_line": i,
                        "category_id": list(cats.values())[i % 3],
                        "status": "fetched",
                        "media_path": "clips/bench.mp4",
                        "split": "train",
                    }
                    for i in range(args.n)
                ]
                s.execute(insert(Clip), rows)

            t0 = time.perf_counter()
            store = open_store(settings)  # closed with the server, below
            pushed = annotate.push(store, settings, PushOptions(batch_size=1000))
            push_s = time.perf_counter() - t0
            print(f"push of {args.n} tasks: {push_s:.1f} s", flush=True)
            assert pushed.created == args.n, pushed

            # set-up for the pull (not timed): a second project whose 10,000 tasks are imported
            # with one annotation each (the bulk-annotation endpoint is Enterprise-only), and
            # recorded in the store as a push would record them
            client = LsClient(server.url, token)
            me, _ = client.whoami()
            t0 = time.perf_counter()
            result = labels_to_result("0011110000", "dog")
            sdk = LabelStudio(base_url=server.url, api_key=token, timeout=600)
            config = sdk.projects.get(pushed.ls_project_id).label_config
            pid = sdk.projects.create(title="bench-pull", label_config=config).id
            data = [
                {
                    "data": {
                        "video": "/data/local-files/?d=clips/bench.mp4",
                        "clip_id": r["clip_id"],
                    },
                    "annotations": [{"result": result, "completed_by": me, "lead_time": 2.0}],
                }
                for r in rows
            ]
            ids = sdk.projects.import_tasks(pid, request=data, return_task_ids=True).task_ids
            with open_store(settings) as opened, opened.session() as s:
                project = q.add_project(s, server.url, pid, "bench-pull", "-")
                pks = q.clip_pks(s, [r["clip_id"] for r in rows])
                q.insert_tasks(
                    s,
                    project.id,
                    [(pks[r["clip_id"]], t, None) for r, t in zip(rows, ids, strict=True)],
                )
            setup_s = time.perf_counter() - t0

            t0 = time.perf_counter()
            pulled = annotate.pull(store, settings, project="bench-pull")
            pull_s = time.perf_counter() - t0
            assert pulled.new == args.n, pulled
            t0 = time.perf_counter()
            again = annotate.pull(store, settings, project="bench-pull")
            repull_s = time.perf_counter() - t0
            assert again.new == 0 and again.updated == 0
            store.close()
        finally:
            server.stop()
    out = {
        "benchmark": "labelstudio push/pull",
        "n_tasks": args.n,
        "push_s": round(push_s, 2),
        "pull_s": round(pull_s, 2),
        "pull_again_noop_s": round(repull_s, 2),
        "setup_annotations_s": round(setup_s, 2),
        "server_first_start_s": round(start_s, 2),
        "target_s": TARGET_S,
        "push_under_target": push_s < TARGET_S,
        "pull_under_target": pull_s < TARGET_S,
        "store": "sqlite",
        "label_studio": "1.23.2 (SQLite, runserver)",
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "python": platform.python_version(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

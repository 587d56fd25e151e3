"""The device benchmark script at tiny sizes on the CPU (its CI smoke run, so it cannot rot):
every section runs, writes its JSON, and the resume check holds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
def test_gpu_sh_smoke_runs_every_section(tmp_path: Path) -> None:
    env = {**os.environ, "AVEL_BENCH_SMOKE": "1"}
    done = subprocess.run(
        [str(ROOT / "benchmarks" / "gpu.sh"), "--device", "cpu", "--out-dir", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = {p.stem: json.loads(p.read_text()) for p in tmp_path.glob("gpu_smoke_*.json")}
    assert set(out) == {f"gpu_smoke_{s}" for s in ("train", "resume", "extract", "predict")}
    train = out["gpu_smoke_train"]
    for precision in ("bf16", "float32"):
        assert set(train[precision]["epochs"]) == {"psp", "psa_s", "psa_v"}
        assert all(s > 0 for s in train[precision]["s_per_epoch_median"].values())
    assert out["gpu_smoke_resume"]["equal"] is True  # bit-identical after resuming (CPU)
    extract = out["gpu_smoke_extract"]
    assert extract["decode_cpu_s_per_clip"] > 0
    one = extract["by_workers"]["1"]  # one decode worker process
    assert one["limited_by"] in ("decode", "compute")
    assert one["decode_cpu_s_per_clip"] > 0  # measured inside the worker, not in the parent
    assert extract["cores_to_feed_one_device"] > 0
    assert out["gpu_smoke_predict"]["bf16"]["clips_per_s_median"] > 0

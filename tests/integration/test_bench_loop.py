"""The loop benchmark: its scripted annotators (unit), and its ``--quick`` run through the real
services (push, pull, qc, train, evaluate, predict) with a JSON whose figures hang together."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bench_loop.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_loop", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_loop"] = module
    spec.loader.exec_module(module)
    return module


NAMES = ["dog", "cat", "bell"]


def test_a_perfect_annotator_labels_the_truth_and_pays_for_every_box():
    b = _bench()
    who = b.AnnotatorSpec("x", 0.0, 0.0, 0.0)
    cost = b.CostModel(base_s=10, glance_s=2, box_s=1, category_s=5)
    rng = np.random.default_rng(0)
    out = b.scripted_label("0111000000", "cat", NAMES, None, who, rng, cost)
    assert (out.segments, out.category, out.prefilled) == ("0111000000", "cat", False)
    assert (out.changed_seconds, out.changed_category, out.human_s) == (3, True, 10 + 3 + 5)
    # a pre-fill with one wrong second and the right category: one box, no category
    out = b.scripted_label("0111000000", "cat", NAMES, ("0110000000", "cat"), who, rng, cost)
    assert (out.segments, out.changed_seconds, out.changed_category) == ("0111000000", 1, False)
    assert out.human_s == 11 and out.prefilled


def test_acceptance_bias_submits_the_prefill_unchanged_at_glance_cost():
    b = _bench()
    who = b.AnnotatorSpec("lazy", 0.0, 0.0, 1.0)
    cost = b.CostModel()
    out = b.scripted_label(
        "1111111111", "dog", NAMES, ("0000000000", None), who, np.random.default_rng(1), cost
    )
    assert (out.segments, out.category, out.accepted_unchanged) == ("0000000000", None, True)
    assert out.human_s == cost.glance_s
    # without a pre-fill there is nothing to accept
    out = b.scripted_label("1111111111", "dog", NAMES, None, who, np.random.default_rng(1), cost)
    assert out.segments == "1111111111" and not out.accepted_unchanged


def test_error_rates_show_in_the_labels():
    b = _bench()
    who = b.AnnotatorSpec("noisy", 0.2, 0.5, 0.0)
    rng = np.random.default_rng(2)
    outs = [b.scripted_label("1" * 10, "dog", NAMES, None, who, rng, b.CostModel())
            for _ in range(400)]  # fmt: skip
    flips = np.mean([o.segments.count("0") / 10 for o in outs])
    wrong = np.mean([o.category not in ("dog", None) for o in outs])
    assert 0.15 < flips < 0.25 and 0.4 < wrong < 0.6


def test_clips_to_target_is_the_first_round_at_target():
    b = _bench()
    recs = [
        {"curated_clips": 0},
        {"curated_clips": 30, "test_accuracy": 0.6},
        {"curated_clips": 60, "test_accuracy": 0.82},
        {"curated_clips": 90, "test_accuracy": 0.79},
    ]
    assert b.clips_to_target(recs, 0.8) == 60
    assert b.clips_to_target(recs, 0.6) == 30
    assert b.clips_to_target(recs, 0.9) is None


@pytest.mark.slow
def test_quick_run_writes_a_consistent_json_and_plot(tmp_path: Path):
    out = tmp_path / "loop.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(out), "--work-dir", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["quick"] is True
    seeds = [str(s) for s in r["seeds"]]
    assert len(seeds) >= 2 and set(r["rounds"]) == {"none", "list", "uncertainty", "random"}
    batch, n_rounds, targets = r["loop"]["batch"], r["loop"]["rounds"], r["targets"]
    assert set(r["clips_to_target"]) == {f"{t:g}" for t in targets}
    for arm, by_seed in r["rounds"].items():
        assert list(by_seed) == seeds
        for seed, recs in by_seed.items():
            assert [x["round"] for x in recs] == list(range(n_rounds + 1))
            human = 0.0
            for k, x in enumerate(recs[1:], start=1):
                assert x["pushed"] == x["pulled_new"] == batch
                assert x["curated_clips"] == k * batch  # every labelled clip curated once
                human += x["human_s_per_clip"] * x["pushed"]
                assert x["human_s_total"] == pytest.approx(human)
                assert x["model"] == f"{arm}-s{seed}-r{k:02d}"
                prelabelled = arm != "none" and k > 1
                assert x["with_predictions"] == (batch if prelabelled else 0)
                assert (x["edit_rate"] is not None) == prelabelled
                if not prelabelled:  # from scratch: nothing to accept, every clip costs a watch
                    assert x["accepted_unchanged"] == 0
                    assert x["human_s_per_clip"] >= r["cost_model"]["base_s"]
            # the order each arm used
            orders = [x["order"] for x in recs[1:]]
            expected = {"none": "list", "list": "list", "random": "random"}.get(arm)
            if expected:
                assert set(orders) == {expected}
            else:
                assert orders == ["random"] + ["uncertainty"] * (n_rounds - 1)
            for t in targets:
                assert r["clips_to_target"][f"{t:g}"][arm][seed] == next(
                    (x["curated_clips"] for x in recs[1:] if x["test_accuracy"] >= t), None
                )
        # round 1 has no model: "none" and "list" label the same clips from scratch, and so
        # do "uncertainty" and "random" (one random draw)
    for seed in seeds:
        first = {arm: r["rounds"][arm][seed][1] for arm in r["rounds"]}
        assert first["none"]["human_s_total"] == first["list"]["human_s_total"]
        assert first["none"]["test_accuracy"] == first["list"]["test_accuracy"]
        assert first["random"]["human_s_total"] == first["uncertainty"]["human_s_total"]
    # the careful team labels mostly right: curated accuracy well above a blind guess
    accs = [x["curated_label_accuracy"] for a in r["rounds"].values() for s in a.values()
            for x in s[1:]]  # fmt: skip
    assert min(accs) > 0.7
    svg = ET.fromstring(out.with_suffix(".svg").read_text())
    assert len(svg.findall("{http://www.w3.org/2000/svg}polyline")) >= 4 * len(seeds)

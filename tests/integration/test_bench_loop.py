"""The loop benchmark: its scripted annotators (unit), and its ``--quick`` run through the real
services (push, pull, qc, train, evaluate, predict) with a JSON whose figures hang together."""

from __future__ import annotations

import copy
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


def test_many_seeds_are_drawn_as_one_mean_line_per_arm():
    b = _bench()
    recs = {str(s): [{"curated_clips": 0}, {"curated_clips": 30, "test_accuracy": 0.5 + s / 100,
            "edit_rate": 0.1, "human_s_total": 100.0, "curated_label_accuracy": 0.9}]
            for s in range(4)}  # fmt: skip
    results = {"random": recs, "balanced": copy.deepcopy(recs)}
    report = {"targets": [0.5], "rounds": results,
              "mean_curves": b.summarise(results, 0.5)["mean_curves"]}  # fmt: skip
    svg = b.chart(report)
    assert "random mean of 4 seeds" in svg and "seed 0" not in svg
    assert report["mean_curves"]["random"]["test_accuracy"] == [None, 0.515]
    report["rounds"] = {"random": {k: recs[k] for k in "012"}}
    assert "random seed 2" in b.chart(report)


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
    assert len(seeds) >= 2
    assert set(r["rounds"]) == {"none", "list", "uncertainty", "balanced", "random"}
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
                assert sum(x["pushed_by_true_category"]) == batch
                assert (x["prefill_right_seconds"] is not None) == (arm != "none" and k > 1)
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
                assert orders == ["random"] + [arm] * (n_rounds - 1)
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
        assert first["random"]["human_s_total"] == first["balanced"]["human_s_total"]
    # paired differences against random: one row per round with a model, over both seeds
    for arm in ("none", "list", "uncertainty", "balanced"):
        rows = r["paired_vs_random"][arm]
        assert [x["round"] for x in rows] == list(range(1, n_rounds + 1))
        for x in rows:
            k = x["round"]
            diffs = [r["rounds"][arm][s][k]["test_accuracy"]
                     - r["rounds"]["random"][s][k]["test_accuracy"] for s in seeds]  # fmt: skip
            assert x["mean_diff"] == pytest.approx(np.mean(diffs), abs=1e-4)
            assert x["wins"] == sum(d > 0 for d in diffs) and x["seeds"] == len(seeds)
    # the mean curve's clips to target
    for t in targets:
        for arm, curve in r["mean_curves"].items():
            hit = [n for n, a in zip(curve["curated_clips"], curve["test_accuracy"], strict=True)
                   if a is not None and a >= t]  # fmt: skip
            assert r["mean_curve_clips_to_target"][f"{t:g}"][arm] == (hit[0] if hit else None)
    # the careful team labels mostly right: curated accuracy well above a blind guess
    accs = [x["curated_label_accuracy"] for a in r["rounds"].values() for s in a.values()
            for x in s[1:]]  # fmt: skip
    assert min(accs) > 0.7
    svg = ET.fromstring(out.with_suffix(".svg").read_text())
    assert len(svg.findall("{http://www.w3.org/2000/svg}polyline")) >= 4 * len(seeds)
    # --merge: two one-seed reports make the two-seed report again
    halves = []
    for seed in seeds[:2]:
        half = json.loads(out.read_text())
        half["rounds"] = {arm: {seed: by[seed]} for arm, by in r["rounds"].items()}
        half["seeds"] = [int(seed)]
        halves.append(tmp_path / f"half{seed}.json")
        halves[-1].write_text(json.dumps(half))
    merged = tmp_path / "merged.json"
    b = _bench()
    b.merge_reports(halves, merged, None)
    m = json.loads(merged.read_text())
    assert m["rounds"] == {a: {s: v for s, v in by.items() if s in seeds[:2]}
                           for a, by in r["rounds"].items()}  # fmt: skip
    if len(seeds) == 2:
        assert m["paired_vs_random"] == r["paired_vs_random"]
        assert m["clips_to_target"] == r["clips_to_target"]
    # other targets: clips to target computed again for them
    b.merge_reports(halves, merged, None, [0.0, 1.01])
    m = json.loads(merged.read_text())
    assert m["targets"] == [0.0, 1.01] and set(m["clips_to_target"]) == {"0", "1.01"}
    for arm, by_seed in m["rounds"].items():
        for seed, recs in by_seed.items():
            assert m["clips_to_target"]["0"][arm][seed] == recs[1]["curated_clips"]
            assert m["clips_to_target"]["1.01"][arm][seed] is None
    # a report of another configuration is refused, naming the file
    other = json.loads(halves[1].read_text())
    other["loop"]["epochs_psp"] += 1
    halves[1].write_text(json.dumps(other))
    with pytest.raises(SystemExit, match=r"half.*loop"):
        b.merge_reports(halves, merged, None)


def test_arm_names_with_a_prefill_floor():
    b = _bench()
    assert b.parse_arm("balanced") == ("balanced", "", None)
    assert b.parse_arm("balanced:entropy@0.3") == ("balanced", "entropy", 0.3)
    assert b.parse_arm("random@0.5") == ("random", "", 0.5)
    assert b.arm_slug("balanced:entropy@0.3") == "balanced-entropy-floor0.3"
    for bad in ("none@0.5", "random@2", "random@x", "list:margin", "balanced:nope@0.5"):
        with pytest.raises(ValueError, match="pre-fill floor"):
            b.parse_arm(bad)


@pytest.mark.slow
def test_quick_run_with_a_prefill_floor(tmp_path: Path):
    out = tmp_path / "floor.json"
    arms = ["random", "random@0.5", "balanced@0.5"]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--seeds", "0", "--arms", *arms,
         "--out", str(out), "--work-dir", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    r = json.loads(out.read_text())
    batch = r["loop"]["batch"]
    withheld = 0
    for arm in arms:
        for x in r["rounds"][arm]["0"][2:]:  # the rounds pushed with a model's predictions
            assert x["with_predictions"] + x["prefill_withheld"] == batch
            bands = {band["from"]: band["clips"] for band in x["prefill_by_score"]}
            assert sum(bands.values()) == x["with_predictions"]
            if arm == "random":
                assert x["prefill_withheld"] == 0
            else:  # every pre-filled clip scored at least 0.5
                assert bands[0.0] == bands[0.25] == 0
                withheld += x["prefill_withheld"]
    # round 2, the first with a model: random@0.5 pre-fills random's draw, minus the clips under
    # the floor (later rounds differ: their models were trained on other labels)
    plain, floored = r["rounds"]["random"]["0"][2], r["rounds"]["random@0.5"]["0"][2]
    assert floored["with_predictions"] == sum(
        band["clips"] for band in plain["prefill_by_score"] if band["from"] >= 0.5
    )
    assert withheld > 0  # the quick model is unsure of some clips
    assert set(r["paired_vs_random"]) == {"random@0.5", "balanced@0.5"}
    assert set(r["paired_vs_same_floor"]) == {"balanced@0.5"}
    rows = r["paired_vs_same_floor"]["balanced@0.5"]
    for x in rows:
        k = x["round"]
        diff = (r["rounds"]["balanced@0.5"]["0"][k]["test_accuracy"]
                - r["rounds"]["random@0.5"]["0"][k]["test_accuracy"])  # fmt: skip
        assert x["mean_diff"] == pytest.approx(diff, abs=1e-4)

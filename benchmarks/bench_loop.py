"""The annotation loop, measured: does pre-labelling save human time, and does ``--order
uncertainty`` reach a target model accuracy with fewer curated clips than random order?

A synthetic pool with known truth in the AVE layout (10 one-second segments, VGG-19 pool5 7x7x512
visual and VGGish 128-d audio features per second; categories of graded difficulty: the
category's audio and visual patterns are weaker for the hard ones) is imported as an AVEL100k
clip list, grouped by category as AVE's Annotations.txt is. Each arm runs rounds of

    push (services.annotate.push) -> scripted annotators label the tasks -> pull
    (services.annotate.pull) -> qc (services.qc.qc_report) -> train (services.training
    .train_model, on curated labels) -> evaluate on a fixed held-out test split (its truth, the
    list labels, never used for training) -> predict the pool (services.predict.predict)

through the toolkit's services on a store of its own. Label Studio is replaced by an in-process
scripted server (``ScriptedLabelStudio``) with the client interface push and pull use: it
validates tasks against ``task.schema.json``, keeps them with their predictions, and its
annotators write annotations in the JSON-export form, which pull validates against
``annotation.schema.json`` and records by its own code (rounds, revisions, curation). See
docs/model.md ("The loop benchmark") for why not a real server, the annotator and cost models.

Arms: ``none`` (no pre-labels, list order), ``list`` (pre-labels, list order), ``uncertainty``
(pre-labels, lowest prediction score first), ``balanced`` (pre-labels, the least sure clip of each
predicted category in turn), ``random`` (pre-labels, random order). ``ARM@F`` (``balanced@0.5``)
pushes with ``--prefill-min-score F``: predictions scoring under F are not shown. Round 0 has no
model: ``none``/``list`` take the list's first clips, the other arms the same random draw.

    python benchmarks/bench_loop.py [--quick] [--out benchmarks/results/loop.json]
        [--seeds 0 1 2] [--rounds 6] [--batch 60] [--epochs 10] [--pool 2600] [--scoring margin]
        [--threads 2]
    python benchmarks/bench_loop.py --merge A.json B.json ... --out ALL.json

``--merge`` joins runs of the same configuration made in separate processes (one seed each, say,
to use two cores) into one report, with its summary and plot.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from avel_annotate.config import Settings, load_settings
from avel_annotate.domain.line_chart import line_chart_svg
from avel_annotate.domain.ls_results import labels_to_result, result_to_labels
from avel_annotate.domain.uncertainty import SCORERS
from avel_annotate.features.provenance import Provenance
from avel_annotate.features.store_files import feature_path, write_features
from avel_annotate.labelstudio.client import LsClient, schema_problem
from avel_annotate.services import annotate, evaluation, predict, qc, training
from avel_annotate.services.annotate import BY_SCORE, PushOptions
from avel_annotate.services.clips import import_clip_list
from avel_annotate.services.curation import curated_labels
from avel_annotate.services.store import open_store
from avel_annotate.store import features as fq
from avel_annotate.store.engine import make_engine, session_scope
from avel_annotate.store.tables import Clip

log = logging.getLogger("bench_loop")

EXTRACTOR = "synthetic-loop"
ARMS = ("none", "list", "uncertainty", "balanced", "random")
N_SEG = 10


# ------------------------------------------------------------------------------------- pool


@dataclass(frozen=True)
class PoolSpec:
    n_pool: int = 1000  # train split: what the loop pushes
    n_val: int = 60  # validation split: labelled once by the annotators, every arm alike
    n_test: int = 200  # held-out test split: scored against the truth
    # one strength per category (audio and visual pattern scale): low = hard
    strengths: tuple[float, ...] = (1.0, 0.8, 0.65, 0.5, 0.4, 0.3)
    noise: float = 1.0
    p_all_event: float = 0.35
    n_pattern_regions: int = 6
    seed: int = 7

    @property
    def n_categories(self) -> int:
        return len(self.strengths)


@dataclass
class Pool:
    clip_ids: list[str]
    split: list[str]
    category: list[int]  # truth
    segments: list[str]  # truth, ten 0/1
    names: list[str]
    list_path: Path
    feature_paths: list[Path]


def category_names(spec: PoolSpec) -> list[str]:
    return [f"cat{i} (strength {s:.2f})" for i, s in enumerate(spec.strengths)]


def _states(rng: np.random.Generator, spec: PoolSpec) -> np.ndarray:
    """Per second: 0 audio-visual event, 1 audio only, 2 visual only, 3 neither."""
    if rng.random() < spec.p_all_event:
        return np.zeros(N_SEG, dtype=np.int64)
    states = rng.choice(4, size=N_SEG, p=(0.4, 0.2, 0.2, 0.2))
    if not (states == 0).any():
        states[rng.integers(N_SEG)] = 0
    if (states == 0).all():
        states[rng.integers(N_SEG)] = 1 + rng.integers(3)
    return states


def write_pool(root: Path, spec: PoolSpec) -> Pool:
    """Truth, the clip list (grouped by category, then split) and one feature file per clip."""
    rng = np.random.default_rng(spec.seed)
    c = spec.n_categories
    audio_pat = rng.normal(size=(c, 128))
    visual_pat = np.abs(rng.normal(size=(c, 512))) * 1.5
    names = category_names(spec)
    rows: list[tuple[str, int, str]] = []  # split, category, segments, before sorting
    for split, n in (("train", spec.n_pool), ("val", spec.n_val), ("test", spec.n_test)):
        for _ in range(n):
            rows.append((split, int(rng.integers(c)), ""))
    # AVE's Annotations.txt is grouped by category: so is this list (the "list" order)
    order = sorted(range(len(rows)), key=lambda i: (rows[i][1], i))
    clip_ids, splits, cats, segs, paths = [], [], [], [], []
    prov = Provenance(
        extractor=EXTRACTOR, visual_model="synthetic", visual_weights="synthetic",
        audio_model="synthetic", audio_weights="synthetic", random=False,
        preprocessing="none", decoder="none", dtype="float16", frames_per_second=16,
        notes="bench_loop synthetic pool: patterns over noise, not real features",
    )  # fmt: skip
    for n, i in enumerate(order):
        split, cat, _ = rows[i]
        states = _states(rng, spec)
        s = spec.strengths[cat]
        audio = rng.normal(scale=spec.noise, size=(N_SEG, 128))
        visual = np.abs(rng.normal(scale=spec.noise, size=(N_SEG, 49, 512)))
        for t, state in enumerate(states):
            if state in (0, 1):
                audio[t] += s * audio_pat[cat]
            if state in (0, 2):
                regions = rng.choice(49, size=spec.n_pattern_regions, replace=False)
                visual[t, regions] += s * visual_pat[cat]
        clip_id = f"loop{n:07d}_000000"
        path = feature_path(root / "features", EXTRACTOR, clip_id)
        write_features(path, visual.reshape(N_SEG, 7, 7, 512), audio, prov)
        clip_ids.append(clip_id)
        splits.append(split)
        cats.append(cat)
        segs.append("".join("1" if st == 0 else "0" for st in states))
        paths.append(path.resolve())
    list_path = root / "pool.csv"
    lines = ["video_id,category,split,labels"]
    for cid, split, cat, seg in zip(clip_ids, splits, cats, segs, strict=True):
        lines.append(f'{cid},{names[cat]},{split},"[{",".join(seg)}]"')
    list_path.write_text("\n".join(lines) + "\n")
    return Pool(clip_ids, splits, cats, segs, names, list_path, paths)


def build_base_store(root: Path, pool: Pool) -> Path:
    """A store with the pool imported, every clip 'fetched' (a media path that the scripted
    server never plays) and its feature file recorded (absolute path, shared by all arms)."""
    data = root / "base"
    settings = load_settings(data_dir=data, overrides={"progress": False})
    with open_store(settings) as store:
        import_clip_list(store, settings, pool.list_path)
    index = {cid: i for i, cid in enumerate(pool.clip_ids)}
    engine = make_engine(settings.db_url)
    with session_scope(engine) as s:
        for clip in s.query(Clip):
            i = index[clip.clip_id]
            clip.status = "fetched"
            clip.media_path = f"clips/{clip.clip_id}.mp4"
            fq.record_feature_file(
                s, clip.id, extractor=EXTRACTOR, path=str(pool.feature_paths[i]),
                dtype="float16", is_random=False, weights_sha256="synthetic",
                provenance="{}", sha256=None,
            )  # fmt: skip
    engine.dispose()
    return data


# ------------------------------------------------------------------------ scripted annotators


@dataclass(frozen=True)
class AnnotatorSpec:
    name: str
    p_flip: float  # per second: their reading of the clip is wrong
    p_wrong_category: float  # their reading names another category
    accept_bias: float  # a pre-filled clip: submitted unchanged without checking


TEAM = (
    AnnotatorSpec("ann-a@bench.local", 0.02, 0.02, 0.10),
    AnnotatorSpec("ann-b@bench.local", 0.04, 0.04, 0.20),
    AnnotatorSpec("ann-c@bench.local", 0.08, 0.10, 0.50),  # the careless one
)


@dataclass(frozen=True)
class CostModel:
    """Human seconds per submitted clip: ``base_s`` to load and watch it (``glance_s`` when a
    pre-filled clip is submitted without checking), ``box_s`` per second box toggled from the
    state the editor opened in (pre-filled, or all empty), ``category_s`` when the category has
    to be chosen or changed."""

    base_s: float = 15.0
    glance_s: float = 3.0
    box_s: float = 1.5
    category_s: float = 4.0


@dataclass(frozen=True)
class Labelled:
    segments: str
    category: str | None
    changed_seconds: int
    changed_category: bool
    accepted_unchanged: bool
    human_s: float
    prefilled: bool


def scripted_label(
    truth_segments: str,
    truth_category: str,
    names: list[str],
    prefill: tuple[str, str | None] | None,
    who: AnnotatorSpec,
    rng: np.random.Generator,
    cost: CostModel,
) -> Labelled:
    """One annotator's labels for one clip. Their own reading is the truth with per-second
    flips and a wrong category at their rates; a pre-filled clip is either submitted as it is
    (``accept_bias``) or corrected to their reading."""
    own = "".join(
        ("1" if b == "0" else "0") if rng.random() < who.p_flip else b for b in truth_segments
    )
    own_cat: str | None = truth_category
    if rng.random() < who.p_wrong_category:
        own_cat = names[
            (names.index(truth_category) + 1 + rng.integers(len(names) - 1)) % len(names)
        ]
    accept = rng.random() < who.accept_bias
    if "1" not in own:
        own_cat = None
    start_seg, start_cat = prefill if prefill is not None else ("0" * N_SEG, None)
    if prefill is not None and accept:
        return Labelled(start_seg, start_cat, 0, False, True, cost.glance_s, True)
    changed = sum(a != b for a, b in zip(own, start_seg, strict=True))
    cat_changed = own_cat != start_cat and own_cat is not None
    human = cost.base_s + cost.box_s * changed + cost.category_s * cat_changed
    return Labelled(own, own_cat, changed, cat_changed, False, human, prefill is not None)


class ScriptedLabelStudio:
    """In-process stand-in for the Label Studio server, with the methods of ``LsClient`` that
    push and pull call. Tasks are checked against the task schema as the real client does;
    annotations are made by scripted annotators in the JSON-export form."""

    url = "http://scripted-label-studio.invalid"

    def __init__(self, team: tuple[AnnotatorSpec, ...]) -> None:
        self.team = team
        self._projects: dict[int, dict[str, Any]] = {}
        self._tasks: dict[int, dict[str, Any]] = {}
        self._next = {"project": 1, "task": 1, "annotation": 1, "storage": 1}
        self._storages: dict[int, int] = {}

    def _id(self, kind: str) -> int:
        self._next[kind] += 1
        return self._next[kind] - 1

    # -- the LsClient surface used by push and pull
    def projects(self) -> list[tuple[int, str, str]]:
        return [(pid, p["title"], p.get("description", "")) for pid, p in self._projects.items()]

    def create_project(self, title: str, label_config: str, **fields: Any) -> int:
        pid = self._id("project")
        self._projects[pid] = {"title": title, "label_config": label_config, **fields}
        return pid

    def update_project(self, project_id: int, **fields: Any) -> None:
        self._projects[project_id].update(fields)

    def ensure_local_storage(self, project_id: int, path: str, title: str) -> int:
        if project_id not in self._storages:
            self._storages[project_id] = self._id("storage")
        return self._storages[project_id]

    def task_clip_ids(self, project_id: int) -> list[tuple[int, str | None]]:
        return [
            (tid, t["data"].get("clip_id"))
            for tid, t in self._tasks.items()
            if t["project"] == project_id
        ]

    def import_tasks(self, project_id: int, tasks: list[dict[str, Any]]) -> list[int]:
        ids = []
        for task in tasks:
            problem = schema_problem("task", task)
            if problem:
                raise ValueError(f"task does not match task.schema.json: {problem}")
            tid = self._id("task")
            self._tasks[tid] = {
                **copy.deepcopy(task),
                "id": tid,
                "project": project_id,
                "annotations": [],
            }
            ids.append(tid)
        return ids

    def users(self) -> dict[int, str]:
        return {i + 1: who.name for i, who in enumerate(self.team)}

    def export_tasks(self, project_id: int) -> list[dict[str, Any]]:
        return [copy.deepcopy(t) for t in self._tasks.values() if t["project"] == project_id]

    # -- the annotators
    def annotate_open_tasks(
        self,
        project_id: int,
        truth: dict[str, tuple[str, str]],
        names: list[str],
        seed: int,
        cost: CostModel,
    ) -> list[Labelled]:
        """Every task without an annotation gets one, from the annotator the clip is assigned
        to (by clip, so every arm sends a clip to the same person with the same reading)."""
        done = []
        self.last_clip_ids: list[str] = []
        for tid, task in sorted(self._tasks.items()):
            if task["project"] != project_id or task["annotations"]:
                continue
            clip_id = task["data"]["clip_id"]
            number = int(clip_id[4:11])
            who_i = number % len(self.team)
            rng = np.random.default_rng([seed, number])
            prefill = None
            if task.get("predictions"):
                got = result_to_labels(task["predictions"][0]["result"], names)
                prefill = (got.segments, got.category)
            seg, cat = truth[clip_id]
            out = scripted_label(seg, cat, names, prefill, self.team[who_i], rng, cost)
            now = datetime.now(UTC).isoformat()
            task["annotations"].append(
                {
                    "id": self._id("annotation"),
                    "task": tid,
                    "completed_by": who_i + 1,
                    "result": labels_to_result(out.segments, out.category),
                    "was_cancelled": False,
                    "ground_truth": False,
                    "lead_time": out.human_s,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            done.append(out)
            self.last_clip_ids.append(clip_id)
        return done


# ------------------------------------------------------------------------------------ rounds


@dataclass(frozen=True)
class LoopConfig:
    rounds: int = 4
    batch: int = 30
    epochs: int = 5
    batch_size: int = 16
    scoring: str = "margin"
    cost: CostModel = CostModel()
    team: tuple[AnnotatorSpec, ...] = TEAM


def _label_ids(segments: str, category: int | None, background: int) -> list[int]:
    return [category if b == "1" and category is not None else background for b in segments]


def curated_accuracy(settings: Settings, pool: Pool) -> tuple[int, float | None]:
    """Curated clips of the train split and the segment accuracy of their labels vs truth."""
    index = {cid: i for i, cid in enumerate(pool.clip_ids)}
    names = {n: i for i, n in enumerate(pool.names)}
    bg = len(pool.names)
    right = total = n = 0
    with open_store(settings) as store:
        curated = curated_labels(store, "train")
    for c in curated:
        i = index[c.clip_id]
        got = _label_ids(c.segments, names.get(c.category or ""), bg)
        want = _label_ids(pool.segments[i], pool.category[i], bg)
        right += sum(a == b for a, b in zip(got, want, strict=True))
        total += N_SEG
        n += 1
    return n, (right / total if total else None)


def run_arm(
    arm: str, seed: int, pool: Pool, base: Path, work: Path, cfg: LoopConfig
) -> list[dict[str, Any]]:
    kind, scoring, floor = parse_arm(arm)
    scoring = scoring or cfg.scoring
    data = work / f"{arm_slug(arm)}-seed{seed}"
    if data.exists():
        shutil.rmtree(data)
    shutil.copytree(base, data)
    settings = load_settings(data_dir=data, overrides={"progress": False})
    server = ScriptedLabelStudio(cfg.team)
    client = cast(LsClient, server)
    truth = {
        cid: (pool.segments[i], pool.names[pool.category[i]]) for i, cid in enumerate(pool.clip_ids)
    }
    index = {cid: i for i, cid in enumerate(pool.clip_ids)}
    # the validation split: labelled once from scratch, the same way in every arm
    store = open_store(settings)  # closed when the arm is done
    annotate.push(store, settings, PushOptions(project="val", split="val"), client=client)
    val_pid = next(pid for pid, title, _ in server.projects() if title == "val")
    server.annotate_open_tasks(val_pid, truth, pool.names, seed, cfg.cost)
    annotate.pull(store, settings, project="val", client=client)

    records: list[dict[str, Any]] = []
    model: str | None = None
    human_total = 0.0
    for rnd in range(cfg.rounds + 1):
        started = time.perf_counter()
        record: dict[str, Any] = {"round": rnd}
        if rnd > 0:  # annotate a batch with the model of the round before
            prelabel = kind != "none" and model is not None
            if kind in ("none", "list") or (kind in BY_SCORE and model is None):
                order = "list" if kind not in BY_SCORE else "random"
            else:
                order = kind
            push = annotate.push(
                store, settings, PushOptions(project="loop", split="train", limit=cfg.batch,
                model=model if prelabel else None, order=order, seed=seed * 1000 + rnd,
                prefill_min_score=floor if prelabel else None),
                client=client,
            )  # fmt: skip
            pid = push.ls_project_id
            labelled = server.annotate_open_tasks(pid, truth, pool.names, seed, cfg.cost)
            pulled = annotate.pull(store, settings, project="loop", client=client)
            prefilled = [x for x in labelled if x.prefilled]
            by_cat = np.bincount(
                [pool.category[index[c]] for c in server.last_clip_ids], minlength=len(pool.names)
            )
            human = sum(x.human_s for x in labelled)
            checks = _prefill_checks(server, pool, index)
            human_total += human
            record.update(
                order=order,
                pushed=push.created,
                with_predictions=push.with_predictions,
                prefill_withheld=push.withheld,
                pulled_new=pulled.new,
                edit_rate=(
                    sum(x.changed_seconds for x in prefilled) / (N_SEG * len(prefilled))
                    if prefilled
                    else None
                ),
                accepted_unchanged=sum(x.accepted_unchanged for x in labelled),
                pushed_by_true_category=by_cat.tolist(),
                prefill_right_seconds=_prefill_right(checks),
                prefill_by_score=_prefill_by_score(checks),
                human_s_per_clip=human / len(labelled) if labelled else None,
                human_s_total=human_total,
            )
            record["annotate_s"] = time.perf_counter() - started
            report = qc.qc_report(store)
            agree = report.model_vs_human.get(model or "")
            record["qc_model_vs_curated_seconds_pct"] = (
                agree.percent_agreement if agree is not None else None
            )
        n_curated, cur_acc = curated_accuracy(settings, pool)
        record.update(curated_clips=n_curated, curated_label_accuracy=cur_acc)
        if n_curated:
            name = f"{arm_slug(arm)}-s{seed}-r{rnd:02d}"
            trained = training.train_model(store, settings, training.TrainOptions(
                name=name, stages=("psp",), epochs=cfg.epochs,
                batch_size=cfg.batch_size, seed=seed, bf16=True, features=EXTRACTOR,
                feature_cache=False, device="cpu",
            ))  # fmt: skip
            ev = evaluation.evaluate_model(store, settings, name, evaluation.EvalOptions(
                "test", labels="list", features=EXTRACTOR))  # fmt: skip
            record.update(
                model=name,
                train_s=trained.seconds,
                val_accuracy=trained.best_val_accuracy,
                test_accuracy=ev.metrics["accuracy"],
            )
            model = name
            record["qc_train_test_s"] = (
                time.perf_counter() - started - record.get("annotate_s", 0.0)
            )
            if kind != "none" and rnd < cfg.rounds:
                t_pred = time.perf_counter()
                predict.predict(
                    store, settings, name, split="train", features=EXTRACTOR, device="cpu",
                    batch_size=128, scoring=scoring,
                )  # fmt: skip
                record["predict_s"] = time.perf_counter() - t_pred
        record["round_s"] = time.perf_counter() - started
        shown = ("round", "curated_clips", "test_accuracy", "edit_rate", "human_s_per_clip",
                 "annotate_s", "train_s", "qc_train_test_s", "predict_s")  # fmt: skip
        log.info("%s seed %d: %s", arm, seed, {k: record.get(k) for k in shown})
        records.append(record)
    store.close()
    shutil.rmtree(data, ignore_errors=True)
    return records


def _prefill_checks(
    server: ScriptedLabelStudio, pool: Pool, index: dict[str, int]
) -> list[tuple[float, int]]:
    """For each pre-filled clip just annotated: its prediction's score and how many of its ten
    pre-filled seconds were right (segment and category) against the truth."""
    bg = len(pool.names)
    names = {n: i for i, n in enumerate(pool.names)}
    out = []
    wanted = set(server.last_clip_ids)
    for task in server._tasks.values():
        cid = task["data"]["clip_id"]
        if cid not in wanted or not task.get("predictions"):
            continue
        pred = task["predictions"][0]
        got = result_to_labels(pred["result"], pool.names)
        i = index[cid]
        mine = _label_ids(got.segments, names.get(got.category or ""), bg)
        want = _label_ids(pool.segments[i], pool.category[i], bg)
        out.append((float(pred["score"]), sum(a == b for a, b in zip(mine, want, strict=True))))
    return out


def _prefill_right(checks: list[tuple[float, int]]) -> float | None:
    """Share of the pre-filled seconds that were right: how good the predictions shown to the
    annotators were."""
    return sum(r for _, r in checks) / (N_SEG * len(checks)) if checks else None


SCORE_BANDS = (0.0, 0.25, 0.5, 0.75, 1.0)


def _prefill_by_score(checks: list[tuple[float, int]]) -> list[dict[str, Any]]:
    """The pre-filled clips by prediction score band (``SCORE_BANDS``): how many, and the share
    of their seconds that were right; what a --prefill-min-score is chosen by."""
    last = len(SCORE_BANDS) - 2  # a score of 1.0 falls in the top band
    counts = [0] * (last + 1)
    right = [0] * (last + 1)
    for score, r in checks:
        band = min(int(np.searchsorted(SCORE_BANDS, score, side="right")) - 1, last)
        counts[band] += 1
        right[band] += r
    return [
        {
            "from": lo,
            "to": hi,
            "clips": n,
            "right_seconds": float(k / (N_SEG * n)) if n else None,
        }
        for lo, hi, n, k in zip(SCORE_BANDS, SCORE_BANDS[1:], counts, right, strict=False)
    ]


def clips_to_target(records: list[dict[str, Any]], target: float) -> int | None:
    """Curated clips at the first round whose model reaches ``target`` test accuracy."""
    for r in records:
        if r.get("test_accuracy") is not None and r["test_accuracy"] >= target:
            return int(r["curated_clips"])
    return None


def human_s_to_target(records: list[dict[str, Any]], target: float) -> float | None:
    for r in records:
        if r.get("test_accuracy") is not None and r["test_accuracy"] >= target:
            return float(r.get("human_s_total", 0.0))
    return None


def summarise(results: dict[str, dict[str, list[dict[str, Any]]]], target: float) -> dict[str, Any]:
    to_target = {
        arm: {seed: clips_to_target(recs, target) for seed, recs in by_seed.items()}
        for arm, by_seed in results.items()
    }
    human_to_target = {
        arm: {seed: human_s_to_target(recs, target) for seed, recs in by_seed.items()}
        for arm, by_seed in results.items()
    }

    def mean_of(arm: str, key: str) -> list[float | None]:
        runs = list(results[arm].values())
        out: list[float | None] = []
        for i in range(len(runs[0])):
            vals = [r[i].get(key) for r in runs if r[i].get(key) is not None]
            out.append(round(float(np.mean(vals)), 4) if vals else None)
        return out

    curves = {
        arm: {
            k: mean_of(arm, k)
            for k in (
                "curated_clips",
                "test_accuracy",
                "edit_rate",
                "human_s_per_clip",
                "curated_label_accuracy",
                "human_s_total",
            )
        }
        for arm in results
    }
    mean_to_target = {
        arm: clips_to_target(
            [
                {"curated_clips": n, "test_accuracy": acc}
                for n, acc in zip(curve["curated_clips"], curve["test_accuracy"], strict=True)
            ],
            target,
        )
        for arm, curve in curves.items()
    }
    return {
        "clips_to_target": to_target,
        "human_s_to_target": human_to_target,
        "mean_curves": curves,
        "mean_curve_clips_to_target": mean_to_target,
    }


def paired_vs_random(results: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    """Per arm and round: test accuracy minus random's on the same seed (the same pool, team
    and first draw), mean and standard error over the seeds both arms ran."""
    if "random" not in results:
        return {}
    return {arm: paired_rows(results, arm, "random") for arm in results if arm != "random"}


def paired_vs_same_floor(results: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    """The same against random order pushed with the same pre-fill floor (``ARM@F`` against
    ``random@F``), for the arms that have such a partner."""
    out: dict[str, Any] = {}
    for arm in results:
        head, at, floor = arm.partition("@")
        partner = f"random@{floor}"
        if at and head != "random" and partner in results:
            out[arm] = paired_rows(results, arm, partner)
    return out


def paired_rows(
    results: dict[str, dict[str, list[dict[str, Any]]]], arm: str, base: str
) -> list[dict[str, Any]]:
    by_seed, other = results[arm], results[base]
    seeds = sorted(set(by_seed) & set(other))
    rows = []
    for rnd in range(len(by_seed[seeds[0]]) if seeds else 0):
        diffs = [
            by_seed[s][rnd]["test_accuracy"] - other[s][rnd]["test_accuracy"]
            for s in seeds
            if by_seed[s][rnd].get("test_accuracy") is not None
            and other[s][rnd].get("test_accuracy") is not None
        ]
        if not diffs:
            continue
        d = np.asarray(diffs)
        se = float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else None
        rows.append({
            "round": rnd,
            "curated_clips": by_seed[seeds[0]][rnd]["curated_clips"],
            "mean_diff": round(float(d.mean()), 4),
            "se": round(se, 4) if se is not None else None,
            "wins": int((d > 0).sum()),
            "losses": int((d < 0).sum()),
            "seeds": int(d.size),
        })  # fmt: skip
    return rows


def parse_arm(text: str) -> tuple[str, str, float | None]:
    """``ORDER[:SCORE][@FLOOR]`` as (order, score or "", pre-fill floor or None):
    "balanced:entropy" scores by entropy; "balanced@0.5" pushes with --prefill-min-score 0.5."""
    head, at, floor_text = text.partition("@")
    kind, _, scoring = head.partition(":")
    bad = kind not in ARMS or (scoring and (kind not in BY_SCORE or scoring not in SCORERS))
    floor: float | None = None
    if at:
        try:
            floor = float(floor_text)
        except ValueError:
            bad = True
        else:
            bad = bad or kind == "none" or not 0.0 <= floor <= 1.0
    if bad:
        raise ValueError(
            f"{text!r}: use {', '.join(ARMS)}, uncertainty:SCORE or balanced:SCORE "
            f"({', '.join(SCORERS)}), with @FLOOR (0-1) for a pre-fill floor"
        )
    return kind, scoring, floor


def arm_slug(arm: str) -> str:
    """The arm as a file and model name part."""
    return arm.replace(":", "-").replace("@", "-floor")


def _arm(text: str) -> str:
    try:
        parse_arm(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/loop.json"))
    parser.add_argument("--svg", type=Path, default=None, help="default: OUT with .svg")
    parser.add_argument("--quick", action="store_true", help="tiny sizes for CI (a minute)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument(
        "--arms", nargs="+", default=list(ARMS), type=_arm,
        help=f"of {', '.join(ARMS)}; uncertainty:SCORE or balanced:SCORE: that arm's score; "
        "ARM@FLOOR: push with --prefill-min-score FLOOR",
    )  # fmt: skip
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--pool", type=int, default=None)
    parser.add_argument(
        "--targets", type=float, nargs="+", default=None,
        help="test accuracies to reach (clips to target is reported for each)",
    )  # fmt: skip
    parser.add_argument("--scoring", default="margin", choices=sorted(SCORERS))
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument(
        "--accept-bias-scale", type=float, default=1.0,
        help="multiplies every annotator's acceptance bias (0: every pre-fill is checked)",
    )  # fmt: skip
    parser.add_argument(
        "--merge", type=Path, nargs="+", default=None, metavar="JSON",
        help="join these reports of one configuration into OUT instead of running",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.merge:
        merge_reports(args.merge, args.out, args.svg, args.targets)
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("avel_annotate").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    torch.set_num_threads(args.threads)
    quick = args.quick
    spec = PoolSpec(
        n_pool=args.pool or (240 if quick else PoolSpec.n_pool),
        n_val=40 if quick else PoolSpec.n_val,
        n_test=60 if quick else PoolSpec.n_test,
        strengths=(1.0, 0.7, 0.4) if quick else PoolSpec().strengths,
    )
    cfg = LoopConfig(
        rounds=args.rounds or (2 if quick else LoopConfig.rounds),
        batch=args.batch or (30 if quick else LoopConfig.batch),
        epochs=args.epochs or (2 if quick else LoopConfig.epochs),
        scoring=args.scoring,
        team=tuple(
            replace(a, accept_bias=min(1.0, a.accept_bias * args.accept_bias_scale)) for a in TEAM
        ),
    )
    seeds = args.seeds or ([0, 1] if quick else [0, 1, 2])
    targets = args.targets or ([0.5, 0.55] if quick else [0.7, 0.75, 0.8])
    started = time.perf_counter()
    work_ctx = tempfile.TemporaryDirectory(dir=args.work_dir)
    with work_ctx as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        pool = write_pool(work, spec)
        base = build_base_store(work, pool)
        setup_s = time.perf_counter() - t0
        log.info("pool of %d clips written in %.0f s", len(pool.clip_ids), setup_s)
        results: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for seed in seeds:
            for arm in args.arms:
                results.setdefault(arm, {})[str(seed)] = run_arm(arm, seed, pool, base, work, cfg)
    report = {
        "benchmark": "benchmarks/bench_loop.py: the annotation loop through the services "
        "(push -> scripted annotators -> pull -> qc -> train -> test -> predict)",
        "command": " ".join(["bench_loop.py", *(argv if argv is not None else sys.argv[1:])]),
        "quick": quick,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
        },
        "pool": {
            **asdict(spec),
            "categories": pool.names,
            "list_order": "grouped by category (as AVE Annotations.txt)",
        },
        "annotators": [asdict(a) for a in cfg.team],
        "cost_model": asdict(cfg.cost),
        "loop": {
            "rounds": cfg.rounds,
            "batch": cfg.batch,
            "epochs_psp": cfg.epochs,
            "train_batch_size": cfg.batch_size,
            "stages": ["psp"],
            "bf16": True,
            "scoring": cfg.scoring,
        },
        "seeds": seeds,
        "targets": targets,
        "setup_s": round(setup_s, 1),
        "total_s": round(time.perf_counter() - started, 1),
    }
    write_report(report, results, args.out, args.svg)


def write_report(
    report: dict[str, Any],
    results: dict[str, dict[str, list[dict[str, Any]]]],
    out: Path,
    svg: Path | None,
) -> None:
    """Add the summaries of ``results`` to ``report`` and write it (JSON and the SVG plot)."""
    summary = {f"{t:g}": summarise(results, t) for t in report["targets"]}
    report.update(
        clips_to_target={t: v["clips_to_target"] for t, v in summary.items()},
        human_s_to_target={t: v["human_s_to_target"] for t, v in summary.items()},
        mean_curve_clips_to_target={t: v["mean_curve_clips_to_target"] for t, v in summary.items()},
        mean_curves=next(iter(summary.values()))["mean_curves"],
        paired_vs_random=paired_vs_random(results),
        paired_vs_same_floor=paired_vs_same_floor(results),
        rounds=results,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    (svg or out.with_suffix(".svg")).write_text(chart(report))
    print(json.dumps({"clips_to_target": report["clips_to_target"],
                      "mean_curve_clips_to_target": report["mean_curve_clips_to_target"],
                      "total_s": report["total_s"]}, indent=1))  # fmt: skip


SAME_CONFIG = ("quick", "pool", "annotators", "cost_model", "loop", "targets")


def merge_reports(
    paths: list[Path], out: Path, svg: Path | None, targets: list[float] | None = None
) -> None:
    """One report from runs of one configuration made in separate processes; ``targets``
    replaces the runs' targets (clips to target is computed again for them)."""
    reports = [json.loads(p.read_text()) for p in paths]
    first = reports[0]
    same = [k for k in SAME_CONFIG if not (targets and k == "targets")]
    for path, other in zip(paths[1:], reports[1:], strict=True):
        for key in same:
            if other.get(key) != first.get(key):
                raise SystemExit(f"{path}: its {key!r} differs from {paths[0]}'s; merge only "
                                 "runs of one configuration")  # fmt: skip
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for path, rep in zip(paths, reports, strict=True):
        for arm, by_seed in rep["rounds"].items():
            for seed, recs in by_seed.items():
                if seed in results.setdefault(arm, {}):
                    raise SystemExit(f"{path}: arm {arm} seed {seed} is in two reports")
                results[arm][seed] = recs
    report = {
        k: v
        for k, v in first.items()
        if k not in ("rounds", "paired_vs_random", "paired_vs_same_floor")
    }
    report.update(
        command=" ".join(r["command"] for r in reports),
        merged_from=[str(p) for p in paths],
        seeds=sorted({int(s) for by_seed in results.values() for s in by_seed}),
        total_s=round(sum(r["total_s"] for r in reports), 1),
        targets=targets or first["targets"],
    )
    write_report(report, results, out, svg)


MAX_SEEDS_DRAWN = 3  # more seeds than this: the plot draws each arm's mean curve


def chart(report: dict[str, Any]) -> str:
    panels = []
    for key, title in (
        ("test_accuracy", "Model segment accuracy on the held-out test split"),
        ("edit_rate", "Edit rate: share of pre-filled seconds changed"),
        ("human_s_total", "Human seconds spent, cumulative"),
        ("curated_label_accuracy", "Curated-label accuracy against the truth"),
    ):
        series = {}
        for arm, by_seed in report["rounds"].items():
            if len(by_seed) > MAX_SEEDS_DRAWN:  # one mean line per arm, not a tangle of seeds
                curve = report["mean_curves"][arm]
                series[f"{arm} mean of {len(by_seed)} seeds"] = [
                    (n, v)
                    for n, v in zip(curve["curated_clips"], curve[key], strict=True)
                    if n is not None and v is not None
                ]
                continue
            for seed, recs in by_seed.items():
                pts = [(r["curated_clips"], r[key]) for r in recs if r.get(key) is not None]
                series[f"{arm} seed {seed}"] = pts
        panels.append((title, series))
    return line_chart_svg(
        "Loop benchmark: x = curated clips of the train split "
        f"(targets {', '.join(map(str, report['targets']))})",
        panels,
        groups=list(report["rounds"]),
    )


if __name__ == "__main__":
    main()

"""`avel annotate push|pull`: clips to Label Studio tasks, annotations back into the store.

Push is idempotent and resumable: every task carries its ``clip_id`` in its data, task ids are
recorded right after each batch, and before importing, tasks that exist on the server but not in
the store (a batch that reached the server just before a crash) are recorded instead of
re-created. No session is open during an HTTP call: each batch is imported, then recorded in a
unit of work of its own. Pull lives in ``services.annotate_pull`` (re-exported here).
"""

from __future__ import annotations

import logging
import random
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from rich.progress import track

from avel_annotate.config import Settings
from avel_annotate.domain.ls_results import labels_to_result
from avel_annotate.domain.uncertainty import order_balanced, order_by_confidence
from avel_annotate.errors import ConfigError, NotFoundError
from avel_annotate.labelstudio.client import LsClient
from avel_annotate.services import gold
from avel_annotate.services.annotate_pull import MalformedAnnotationError, PullReport, pull
from avel_annotate.services.labelstudio import client_for
from avel_annotate.services.ls_projects import DEFAULT_PROJECT, ensure_project
from avel_annotate.store import annotations as q
from avel_annotate.store.clips import category_names
from avel_annotate.store.database import Session, Store

log = logging.getLogger(__name__)

ORDERS = ("list", "uncertainty", "balanced", "random")
BY_SCORE = ("uncertainty", "balanced")  # the orders that need a model's prediction scores

__all__ = [
    "DEFAULT_PROJECT",
    "ORDERS",
    "MalformedAnnotationError",
    "PullReport",
    "PushOptions",
    "PushReport",
    "pull",
    "push",
]


@dataclass(frozen=True)
class PushOptions:
    """What `avel annotate push` sends (the defaults of the command are these)."""

    project: str = DEFAULT_PROJECT
    split: str | None = None  # only clips of this split
    limit: int | None = None  # at most this many new tasks
    model: str | None = None  # attach this model version's predictions
    order: str = "list"  # list | uncertainty | balanced | random
    seed: int = 0  # of --order random and of the gold mix
    batch_size: int = 500
    gold_rate: float = gold.dg.DEFAULT_GOLD_RATE  # gold copies per new task
    # attach a prediction only where its score is at least this; None: wherever there is one
    prefill_min_score: float | None = None

    def check(self) -> None:
        if self.order not in ORDERS:
            raise ConfigError(f"unknown order {self.order!r}", f"use one of {', '.join(ORDERS)}")
        if self.order in BY_SCORE and self.model is None:
            raise ConfigError(f"--order {self.order} needs --model VERSION", "name a model version")
        floor = self.prefill_min_score
        if floor is not None:
            if self.model is None:
                raise ConfigError(
                    "--prefill-min-score needs --model VERSION", "name a model version"
                )
            if not 0.0 <= floor <= 1.0:
                raise ConfigError(
                    f"--prefill-min-score {floor} is outside 0-1", "scores are between 0 and 1"
                )


@dataclass(frozen=True)
class PushReport:
    url: str
    project: str
    ls_project_id: int
    created: int
    with_predictions: int
    reconciled: int
    already_pushed: int
    remaining: int
    model_version: str | None
    order: str
    duplicates_on_server: list[int] = field(default_factory=list)
    gold_copies: int = 0  # gold task copies mixed in (unannounced), not counted in created
    withheld: int = 0  # new tasks whose prediction scored under --prefill-min-score


# a first-pass project: one annotation a task; re-queued (overlap) tasks first
FIRST_PASS_SETTINGS: dict[str, Any] = {"maximum_annotations": 1, "show_overlap_first": True}


def _task(
    c: q.PushCandidate,
    pred: q.PredictionRow | None,
    model: str | None,
    cats: set[str],
    key: str,
) -> dict[str, Any]:
    task: dict[str, Any] = {
        "data": {
            "video": "/data/local-files/?d=" + urllib.parse.quote(c.media_path, safe="/"),
            "clip_id": c.clip_id,
            "avel_project": key,
        },
        "meta": {"avel_project": key, "clip_id": c.clip_id},
    }
    if pred is not None and model is not None:
        category = pred.category if pred.category in cats else None
        score = min(max(float(pred.score), 0.0), 1.0)
        task["predictions"] = [
            {
                "model_version": model,
                "score": score,
                "result": labels_to_result(pred.segments, category, score=score),
            }
        ]
    return task


@dataclass
class _Plan:
    """What the store says a push should send, read in one unit of work."""

    mv_pk: int | None
    already: int
    reconciled: int
    duplicates: list[int]
    candidates: list[q.PushCandidate]
    preds: dict[int, q.PredictionRow]
    cats: set[str]


def _record_unknown(
    session: Session,
    project_pk: int,
    server: list[tuple[int, str | None]],
    stored: dict[int, tuple[int, int]],
) -> tuple[int, list[int]]:
    """Record the server's tasks that the store lacks (a batch that reached the server just
    before a crash), gold copies aside; ``(recorded or adopted, duplicate task ids)``."""
    found = [(t, c) for t, c in server if t not in stored and c is not None and c]
    pks = q.clip_pks(session, [c for _, c in found])
    unknown, adopted = gold.reconcile(session, project_pk, found, pks)
    have = {clip_pk for _, clip_pk in stored.values()}
    rows, duplicates = [], []
    for task_id, clip_id in sorted(unknown):
        clip_pk = pks.get(clip_id)
        if clip_pk is None:
            continue
        if clip_pk in have:
            duplicates.append(task_id)
            continue
        have.add(clip_pk)
        rows.append((clip_pk, task_id, None))
    q.insert_tasks(session, project_pk, rows)
    if rows:
        log.info("recorded %d tasks found on the server but not in the store", len(rows))
    return len(rows) + adopted, duplicates


def _plan(
    store: Store, project_pk: int, server: list[tuple[int, str | None]], opts: PushOptions
) -> _Plan:
    with store.session() as session:
        mv_pk = None
        if opts.model is not None:
            mv_pk = q.model_version_id(session, opts.model)
            if mv_pk is None:
                raise NotFoundError(
                    f"model version {opts.model!r} does not exist", "see avel models"
                )
        stored = q.tasks_of(session, project_pk)
        reconciled, duplicates = _record_unknown(session, project_pk, server, stored)
        candidates = q.push_candidates(session, project_pk, opts.split)
        return _Plan(
            mv_pk,
            len(stored),
            reconciled,
            duplicates,
            gold.exclude_gold(session, candidates),
            q.predictions_of(session, mv_pk) if mv_pk is not None else {},
            set(category_names(session)),
        )


def _ordered(plan: _Plan, opts: PushOptions) -> list[q.PushCandidate]:
    candidates = list(plan.candidates)
    if opts.order == "random":
        random.Random(opts.seed).shuffle(candidates)
    elif opts.order in BY_SCORE:
        preds = [plan.preds.get(c.pk) for c in candidates]
        scores = [p.score if p is not None else None for p in preds]
        if opts.order == "uncertainty":
            order = order_by_confidence(scores)
        else:
            order = order_balanced(scores, [p.category if p is not None else None for p in preds])
        candidates = [candidates[i] for i in order]
    return candidates[: opts.limit] if opts.limit else candidates


@dataclass
class _Sent:
    created: int = 0
    with_predictions: int = 0
    gold_copies: int = 0
    withheld: int = 0


def _shown(plan: _Plan, opts: PushOptions, clip_pk: int) -> q.PredictionRow | None:
    """The prediction a task is pre-filled with: none under ``opts.prefill_min_score``."""
    pred = plan.preds.get(clip_pk)
    floor = opts.prefill_min_score
    if pred is None or (floor is not None and float(pred.score) < floor):
        return None
    return pred


def _send(
    store: Store,
    client: LsClient,
    pid: int,
    key: str,
    project_pk: int,
    batch: list[tuple[q.PushCandidate, bool]],
    plan: _Plan,
    opts: PushOptions,
    sent: _Sent,
) -> None:
    """Import one batch; its gold copies are recorded (pending) before, its tasks after."""
    shown = {c.pk: _shown(plan, opts, c.pk) for c, _g in batch}
    mv_pk = plan.mv_pk
    tasks = [_task(c, shown[c.pk], opts.model, plan.cats, key) for c, _g in batch]
    golds = [(c.pk, mv_pk if shown[c.pk] is not None else None) for c, g in batch if g]
    with store.session() as session:  # recorded first: a crash leaves them pending
        pending = iter(gold.q.add_pending(session, project_pk, golds))
    ids = client.import_tasks(pid, tasks)
    pairs = list(zip(batch, ids, strict=True))
    with store.session() as session:
        q.insert_tasks(
            session,
            project_pk,
            [(c.pk, t, mv_pk if shown[c.pk] is not None else None) for (c, g), t in pairs if not g],
        )
        gold.q.set_task_ids(session, [(next(pending), t) for (_c, g), t in pairs if g])
    sent.created += len(ids) - len(golds)
    sent.gold_copies += len(golds)
    sent.with_predictions += sum(1 for c, g in batch if shown[c.pk] is not None and not g)
    sent.withheld += sum(
        1 for c, g in batch if c.pk in plan.preds and shown[c.pk] is None and not g
    )


def push(
    store: Store,
    settings: Settings,
    opts: PushOptions | None = None,
    *,
    client: LsClient | None = None,
) -> PushReport:
    """Create tasks for the fetched clips of ``opts.split`` not pushed yet, mixing in gold
    copies; safe to re-run after an interruption."""
    opts = opts or PushOptions()
    opts.check()
    client = client or client_for(settings)
    project_pk, pid, key = ensure_project(
        store, client, settings, opts.project, FIRST_PASS_SETTINGS
    )
    plan = _plan(store, project_pk, client.task_clip_ids(pid), opts)
    chosen = _ordered(plan, opts)
    with store.session() as session:
        mix = gold.plan(session, project_pk, len(chosen), opts.gold_rate, opts.seed)
    ordinary = iter(chosen)
    mixed = [(next(ordinary), False) if g is None else (mix.gold[g], True) for g in mix.order]
    sent = _Sent()
    size = opts.batch_size
    batches = [mixed[i : i + size] for i in range(0, len(mixed), size)]
    for batch in track(batches, "pushing", disable=not settings.progress or not batches):
        _send(store, client, pid, key, project_pk, batch, plan, opts, sent)
    if opts.model is not None and sent.with_predictions:
        # only now: the server accepts a model version once predictions of it exist
        client.update_project(pid, model_version=opts.model)
    return PushReport(
        url=client.url,
        project=opts.project,
        ls_project_id=pid,
        created=sent.created,
        with_predictions=sent.with_predictions,
        reconciled=plan.reconciled,
        already_pushed=plan.already,
        remaining=len(plan.candidates) - len(chosen),
        model_version=opts.model,
        order=opts.order,
        duplicates_on_server=plan.duplicates,
        gold_copies=sent.gold_copies,
        withheld=sent.withheld,
    )

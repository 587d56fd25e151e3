"""`avel annotate gold add|list|remove`, and the gold hooks of push and pull (the QC report's
gold part is ``services.gold_report``).

A gold clip's labels are known (``domain.gold``). Its gold label is its curated label
(provenance ``gold``), counted once, like any clip's. Copies of it ride along first-pass pushes
as tasks that look like any other (same data, meta and prediction); they live in ``gold_task``,
not ``ls_task``, and their annotations in ``gold_answer``, not ``annotation``: so they never make
curated labels, re-check draws or agreement pairs, and no annotation is stored twice.

The split rule: a gold clip keeps its split. Its single curated label trains only when the clip is
in the train split; a gold clip in the test (or val) split is never trained on, and answers to
gold copies never become training data at all.
"""

from __future__ import annotations

import getpass
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from avel_annotate.domain import gold as dg
from avel_annotate.domain.ls_results import PulledAnnotation, annotator_name
from avel_annotate.errors import ConfigError, NotFoundError
from avel_annotate.services.curation import CurationChanges, recompute_curated
from avel_annotate.services.gold_report import RECHECKED, GoldReport, gold_report, html_sections
from avel_annotate.store import annotations as aq
from avel_annotate.store import gold as q
from avel_annotate.store.clips import category_ids, clip_pk_map
from avel_annotate.store.database import Session, Store

__all__ = [
    "RECHECKED",
    "GoldAddReport",
    "GoldClip",
    "GoldRemoveReport",
    "GoldReport",
    "MixPlan",
    "TruthFigures",
    "add_from_curated",
    "add_from_file",
    "exclude_gold",
    "gold_report",
    "html_sections",
    "list_gold",
    "plan",
    "reconcile",
    "record_answers",
    "remove",
]

log = logging.getLogger(__name__)

TruthFigures = dg.TruthFigures  # re-exported for the CLI (which may not import domain types)


@dataclass(frozen=True)
class GoldAddReport:
    source: str
    added: int
    unchanged: int
    clip_ids: list[str]
    curated: CurationChanges


def _store_gold(
    session: Session, rows: Sequence[tuple[int, str, str, int | None, str]], source: str, by: str
) -> tuple[list[dict[str, Any]], int]:
    """New gold rows of ``(clip pk, clip id, segments, category pk, ref)``; a clip already gold
    with the same labels is unchanged, with other labels it is a conflict (nothing stored)."""
    existing = q.gold_labels(session, [r[0] for r in rows])
    new, unchanged = [], 0
    for pk, clip_id, segments, category, ref in rows:
        old = existing.get(pk)
        if old is not None:
            if (old.segments, old.category_id) == (segments, category):
                unchanged += 1
                continue
            raise ConfigError(
                f"{ref}: clip {clip_id} is gold already with other labels ({old.segments})",
                f"run `avel annotate gold remove {clip_id}` first to replace them",
            )
        new.append(
            {
                "clip_id": pk,
                "segments": segments,
                "category_id": category,
                "source": source,
                "source_ref": ref[:600],
                "added_by": by[:200],
            }
        )
    q.add_gold(session, new)
    return new, unchanged


def add_from_file(store: Store, path: Path, *, by: str | None = None) -> GoldAddReport:
    """Mark the clips of an expert file (``clip_id,segments,category``) gold."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read gold file {path}: {e}", "give a UTF-8 CSV file") from e
    who = by or getpass.getuser()
    with store.session() as session:
        wanted = {line.split(",", 1)[0].strip() for line in text.splitlines()}
        pks = clip_pk_map(session, wanted)
        cats = category_ids(session)
        parsed = dg.parse_gold_file(text, str(path), pks, cats)
        new, unchanged = _store_gold(
            session,
            [
                (
                    pks[r.clip_id],
                    r.clip_id,
                    r.segments,
                    cats[r.category] if r.category else None,
                    f"{path.name}:{r.line}",
                )
                for r in parsed
            ],
            "expert",
            who,
        )
        session.flush()
        changes = recompute_curated(session, [r["clip_id"] for r in new])
    return GoldAddReport("expert", len(new), unchanged, [r.clip_id for r in parsed], changes)


def add_from_curated(
    store: Store, clip_ids: Sequence[str], *, by: str | None = None
) -> GoldAddReport:
    """Mark clips gold with their curated label, which must come from an agreed or adjudicated
    re-check (a first pass alone is not known to be right)."""
    if not clip_ids:
        raise ConfigError("no clip given", "name clips: --from-curated CLIP...")
    who = by or getpass.getuser()
    with store.session() as session:
        pks = clip_pk_map(session, clip_ids)
        missing = [c for c in clip_ids if c not in pks]
        if missing:
            raise NotFoundError(f"clip {missing[0]} is not in the store", "check the clip id")
        curated = aq.curated_of(session, pks.values())
        rows = []
        for clip_id in dict.fromkeys(clip_ids):
            label = curated.get(pks[clip_id])
            if label is None or label.provenance not in (*RECHECKED, "gold"):
                state = "no curated label" if label is None else f"a {label.provenance} label"
                raise ConfigError(
                    f"clip {clip_id} has {state}, not an agreed or adjudicated one",
                    "re-check it first (`avel annotate qc sample`, pull, adjudicate), or give "
                    "its labels in an expert file",
                )
            rows.append(
                (pks[clip_id], clip_id, label.segments, label.category_id, label.provenance)
            )
        new, unchanged = _store_gold(session, rows, "curated", who)
        session.flush()
        changes = recompute_curated(session, [r["clip_id"] for r in new])
    return GoldAddReport("curated", len(new), unchanged, list(dict.fromkeys(clip_ids)), changes)


@dataclass(frozen=True)
class GoldRemoveReport:
    removed: list[str]
    curated: CurationChanges


def remove(store: Store, clip_ids: Sequence[str]) -> GoldRemoveReport:
    """Unmark gold clips; their curated labels follow the ordinary rule again. Task copies and
    answers stay recorded (answers of a clip that is not gold are not scored)."""
    with store.session() as session:
        pks = clip_pk_map(session, clip_ids)
        gold = q.gold_labels(session, pks.values())
        not_gold = [c for c in clip_ids if pks.get(c) not in gold]
        if not_gold:
            raise NotFoundError(f"clip {not_gold[0]} is not gold", "see `avel annotate gold list`")
        q.remove_gold(session, sorted(gold))
        session.flush()
        changes = recompute_curated(session, sorted(gold))
    return GoldRemoveReport(list(dict.fromkeys(clip_ids)), changes)


GoldClip = q.GoldListRow  # a gold clip as `gold list` shows it


def list_gold(store: Store) -> list[GoldClip]:
    with store.session() as session:
        return q.gold_list(session)


# -- push hooks ---------------------------------------------------------------------------------


def reconcile(
    session: Session, project_pk: int, unknown: list[tuple[int, str]], clip_pks: dict[str, int]
) -> tuple[list[tuple[int, str]], int]:
    """Take the gold copies out of the server's tasks the store does not know as ordinary ones.

    A recorded copy is dropped from ``unknown``; a copy an interrupted push created but did not
    record adopts its pending row (same clip); pending rows left without a task are forgotten.
    Returns what is left for the ordinary reconcile, and how many copies were adopted.
    """
    known = q.gold_tasks_of(session, project_pk)
    pending: dict[int, list[int]] = {}
    for pk, clip in q.pending_copies(session, project_pk):
        pending.setdefault(clip, []).append(pk)
    left, adopted = [], []
    for task_id, clip_id in unknown:
        if task_id in known:
            continue
        waiting = pending.get(clip_pks.get(clip_id, -1))
        if waiting:
            adopted.append((waiting.pop(0), task_id))
            continue
        left.append((task_id, clip_id))
    q.set_task_ids(session, adopted)
    q.forget_copies(session, [pk for pks in pending.values() for pk in pks])
    return left, len(adopted)


def exclude_gold(session: Session, candidates: list[aq.PushCandidate]) -> list[aq.PushCandidate]:
    """Ordinary push candidates without the gold clips (their labels are known already)."""
    gold = q.gold_labels(session)
    return [c for c in candidates if c.pk not in gold]


@dataclass(frozen=True)
class MixPlan:
    order: list[int | None]  # None: next ordinary candidate; else a gold clip pk
    gold: dict[int, aq.PushCandidate]


def plan(session: Session, project_pk: int, n_tasks: int, rate: float, seed: int) -> MixPlan:
    if not 0.0 <= rate <= 0.5:
        raise ConfigError(f"--gold-rate {rate} is not in [0, 0.5]", "use e.g. 0.05 (1 in 20)")
    counts = q.copy_counts(session, project_pk) if rate > 0 else {}
    order = dg.plan_mix(n_tasks, counts, rate, seed)
    wanted = {pk for pk in order if pk is not None}
    return MixPlan(order, q.gold_candidates(session, wanted) if wanted else {})


# -- pull hook ----------------------------------------------------------------------------------


def record_answers(
    session: Session,
    project_pk: int,
    seen: Sequence[tuple[int, PulledAnnotation]],
    users: dict[int, str],
    now: datetime,
) -> tuple[int, int, int]:
    """Store the annotations of gold copies: ``(gold task pk, pulled annotation)``.

    Keyed by Label Studio annotation id per copy: a pull again stores nothing twice; an edit
    updates the row, an annotation gone from the server is marked deleted. ``(new, updated,
    deleted)``.
    """
    cats = category_ids(session)
    existing = {(a.gold_task_id, a.ls_annotation_id): a for a in q.answers_of(session, project_pk)}
    new_rows: list[dict[str, Any]] = []
    edits: list[tuple[int, dict[str, Any]]] = []
    keys = set()
    for task_pk, ann in seen:
        key = (task_pk, ann.ls_id)
        keys.add(key)
        category = ann.labels.category
        values = {
            "segments": ann.labels.segments,
            "category_id": cats[category] if category else None,
            "was_cancelled": ann.was_cancelled,
            "lead_time_s": ann.lead_time_s,
            "ls_updated_at": ann.updated_at,
        }
        old = existing.get(key)
        if old is None:
            new_rows.append(
                {
                    **values,
                    "gold_task_id": task_pk,
                    "ls_annotation_id": ann.ls_id,
                    "annotator": annotator_name(ann.annotator_ls_id, users),
                    "annotator_ls_id": ann.annotator_ls_id,
                    "ls_created_at": ann.created_at,
                    "pulled_at": now,
                }
            )
        elif old.deleted or any(old.values[k] != v for k, v in values.items()):
            edits.append((old.pk, values))
    gone = [a.pk for k, a in existing.items() if k not in keys and not a.deleted]
    q.update_answers(session, edits, now)
    q.mark_answers_deleted(session, gone, now)
    q.insert_answers(session, new_rows)
    return len(new_rows), len(edits), len(gone)

"""Curated labels: recorded from annotations, draws and adjudications by the one rule in
``domain.curation``, and read by training through :func:`curated_labels`."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from avel_annotate.domain.curation import AdjudicationView, AnnotationView, Curated, curate
from avel_annotate.store import annotations as q
from avel_annotate.store import gold as gold_q
from avel_annotate.store.database import Session, Store


@dataclass(frozen=True)
class CurationChanges:
    added: int = 0
    changed: int = 0
    removed: int = 0


def views_by_clip(rows: Iterable[q.AnnotationRow]) -> dict[int, list[AnnotationView]]:
    out: dict[int, list[AnnotationView]] = defaultdict(list)
    for r in rows:
        out[r.clip_pk].append(
            AnnotationView(
                r.id, r.round, r.annotator, r.segments, r.category_id, r.was_cancelled, r.deleted
            )
        )
    return out


def recompute_curated(session: Session, clip_pks: Iterable[int] | None = None) -> CurationChanges:
    """Apply the curation rule to the clips (all annotated clips when None); record changes."""
    wanted = None if clip_pks is None else sorted(set(clip_pks))
    if wanted is not None and not wanted:
        return CurationChanges()
    views = views_by_clip(q.annotation_rows(session, wanted))
    targets = wanted if wanted is not None else sorted(views)
    drawn = q.drawn_clip_pks(session)
    adjudications = q.adjudications_by_clip(session, targets)
    current = q.curated_of(session, targets)
    decided: dict[int, Curated | None] = {}
    for pk in targets:
        adj = [
            AdjudicationView(a.id, a.decision, a.accepted_annotation_id)
            for a in adjudications.get(pk, [])
        ]
        decided[pk] = curate(views.get(pk, []), pk in drawn, adj)
    for pk, known in gold_q.gold_labels(session, targets).items():  # a gold label decides
        decided[pk] = Curated(known.segments, known.category_id, "gold", ())
    removed, added, changed, stale = 0, 0, 0, []
    rows = []
    for pk, new in decided.items():
        old = current.get(pk)
        if new is None:
            if old is not None:
                stale.append(pk)
                removed += 1
            continue
        ids = json.dumps(list(new.annotation_ids))
        if old is not None:
            same = (old.segments, old.category_id, old.provenance, old.annotation_ids) == (
                new.segments,
                new.category_id,
                new.provenance,
                ids,
            )
            if same:
                continue
            stale.append(pk)
            changed += 1
        else:
            added += 1
        rows.append(
            {
                "clip_id": pk,
                "segments": new.segments,
                "category_id": new.category_id,
                "provenance": new.provenance,
                "annotation_ids": ids,
            }
        )
    q.delete_curated(session, stale)
    q.insert_curated(session, rows)
    return CurationChanges(added, changed, removed)


@dataclass(frozen=True)
class CuratedClip:
    clip_id: str
    split: str | None
    segments: str  # ten 0/1 characters, second t is character t
    category: str | None
    provenance: str  # first_pass | agreement | adjudication | gold
    annotation_ids: list[int]  # store ids of the annotations the labels come from


def curated_labels(store: Store, split: str | None = None) -> list[CuratedClip]:
    """Every clip's final labels (of one split, or all): what training reads."""
    with store.session() as session:
        return [
            CuratedClip(r.clip_id, r.split, r.segments, r.category, r.provenance, r.annotation_ids)
            for r in q.curated_rows(session, split)
        ]

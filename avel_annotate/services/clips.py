"""Clip-list import (`avel clips import`), clip listing and statistics.

A list is read and parsed whole (``domain.cliplist``, the one list parser), checked against the
store, and imported in one unit of work: every row or none (unless ``--skip-invalid``, which
writes the bad rows to a rejects file). The AVE benchmark split files are in ``ave_split``.
"""

from __future__ import annotations

import csv
import logging
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from avel_annotate.config import Settings
from avel_annotate.domain import segments as seg
from avel_annotate.domain.cliplist import ListRow, ParsedList, RowProblem
from avel_annotate.domain.ids import make_clip_id
from avel_annotate.errors import ClipListError
from avel_annotate.fileio import atomic_open
from avel_annotate.services.cliplist_file import read_clip_list
from avel_annotate.store import clips as q
from avel_annotate.store.database import Session, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportReport:
    path: str
    format: str
    rows: int
    clips_new: int
    clips_unchanged: int
    clips_updated: int
    categories_new: int
    events_new: int
    rejected: int
    rejects_path: str | None
    header_line: int | None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # kept rows worth a look (FILE:LINE: ...)


@dataclass
class _Plan:
    new_clips: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[str, str, int, int, str | None, int]] = field(default_factory=list)
    unchanged: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    rejected_rows: list[ListRow] = field(default_factory=list)


def _group_rows(parsed: ParsedList) -> dict[tuple[str, int], list[ListRow]]:
    groups: dict[tuple[str, int], list[ListRow]] = defaultdict(list)
    for row in parsed.rows:
        assert row.start_s is not None
        groups[(row.ytid, row.start_s)].append(row)
    return groups


def _resolve_starts(
    parsed: ParsedList, stored: dict[tuple[str, int], q.StoredClipKey]
) -> tuple[list[ListRow], list[RowProblem]]:
    """AVEL100k ids without a start: use the one stored clip of that video, else report the row."""
    starts: dict[str, list[int]] = defaultdict(list)
    for ytid, start in stored:
        starts[ytid].append(start)
    rows: list[ListRow] = []
    problems: list[RowProblem] = []
    for row in parsed.rows:
        if row.start_s is not None:
            rows.append(row)
            continue
        found = starts.get(row.ytid, [])
        if len(found) == 1:
            rows.append(replace(row, start_s=found[0]))
        else:
            why = "no stored clip" if not found else f"{len(found)} stored clips"
            problems.append(
                RowProblem(
                    row.line,
                    f"video {row.ytid} has no start time and {why} of it to take one from; "
                    f"write the id as {row.ytid}_<start as 6 digits> or import the VGGSound "
                    "list first",
                    row.ytid,
                )
            )
    return rows, problems


def _plan(parsed: ParsedList, stored: dict[tuple[str, int], q.StoredClipKey], source: str) -> _Plan:
    plan = _Plan()
    for key, rows in _group_rows(parsed).items():
        first = rows[0]
        clip_id = make_clip_id(*key)
        list_segments = first.segments
        if parsed.format == "ave":
            list_segments = seg.from_events(r.event for r in rows if r.event is not None)
        old = stored.get(key)
        if old is None:
            plan.new_clips.append(
                {
                    "clip_id": clip_id,
                    "ytid": key[0],
                    "start_s": key[1],
                    "source_format": parsed.format,
                    "source_file": source,
                    "source_line": first.line,
                    "_category": first.label,
                    "list_segments": list_segments,
                    "split": first.split,
                    "split_source": "list" if first.split else None,
                }
            )
        else:
            conflict = None
            if old.category is not None and old.category != first.label:
                conflict = (
                    f"clip {clip_id} is stored with label {old.category!r} "
                    f"(from {old.source_file}:{old.source_line}), this row says {first.label!r}"
                )
            elif (
                first.split
                and old.split_source == "list"
                and old.split != first.split
                and old.source_format == parsed.format
            ):
                conflict = (
                    f"clip {clip_id} is stored in split {old.split} "
                    f"(from {old.source_file}:{old.source_line}), this row says {first.split}"
                )
            if conflict:
                plan.problems.append(RowProblem(first.line, conflict, clip_id))
                plan.rejected_rows.extend(rows)
                continue
            change: dict[str, Any] = {}
            if first.split and old.split != first.split:
                change.update(split=first.split, split_source="list")
            if list_segments is not None and old.list_segments is None:
                change["list_segments"] = list_segments
            if old.category is None:
                change["_category"] = first.label
            if change:
                plan.updates.append({"id": old.id, **change})
            else:
                plan.unchanged += 1
        for row in rows:
            if row.event is not None:
                plan.events.append((clip_id, row.label, *row.event, row.quality, row.line))
    return plan


def _write_rejects(path: Path, problems: list[RowProblem]) -> None:
    with atomic_open(path) as fh:
        writer = csv.writer(fh)
        writer.writerow(["line", "reason", "row"])
        for p in sorted(problems, key=lambda p: p.line):
            writer.writerow([p.line, p.reason, p.raw])


def _with_starts(parsed: ParsedList, stored: dict[tuple[str, int], q.StoredClipKey]) -> ParsedList:
    rows, start_problems = _resolve_starts(parsed, stored)
    return ParsedList(
        parsed.path,
        parsed.format,
        tuple(rows),
        parsed.problems + tuple(start_problems),
        parsed.header_line,
        parsed.warnings,
    )


def _store_categories(
    session: Session, parsed: ParsedList, plan: _Plan
) -> tuple[dict[str, int], int]:
    """Create the categories the plan uses and put their ids into its rows; return (name -> id,
    how many existed before). Categories are created in order of first appearance in the list,
    so class indices follow the list (AVE: Church bell = 0 ... Mandolin = 27)."""
    used = {c["_category"] for c in plan.new_clips} | {e[1] for e in plan.events}
    used |= {u["_category"] for u in plan.updates if "_category" in u}
    names = [r.label for r in parsed.rows if r.label in used]
    before = len(q.category_ids(session))
    cats = q.ensure_categories(session, names)
    for c in plan.new_clips:
        c["category_id"] = cats[c.pop("_category")]
    for u in plan.updates:
        if "_category" in u:
            u["category_id"] = cats[u.pop("_category")]
    return cats, before


def _store_events(session: Session, plan: _Plan, cats: dict[str, int]) -> int:
    """Insert the list events not stored yet; return how many were new."""
    if not plan.events:
        return 0
    pks = q.clip_pk_map(session, {e[0] for e in plan.events})
    have = q.existing_events(session)
    new_events = []
    for clip_id, label, start, end, quality, line in plan.events:
        key = (pks[clip_id], cats[label], start, end)
        if key in have:
            continue
        have.add(key)
        new_events.append(
            {
                "clip_id": key[0],
                "category_id": key[1],
                "start_s": start,
                "end_s": end,
                "quality": quality,
                "source_line": line,
            }
        )
    q.insert_events(session, new_events)
    return len(new_events)


def import_clip_list(
    store: Store,
    settings: Settings,
    path: Path,
    fmt: str | None = None,
    *,
    skip_invalid: bool = False,
    rejects_path: Path | None = None,
) -> ImportReport:
    """Validate the whole list, then import it in one transaction (or nothing at all)."""
    parsed = read_clip_list(path, fmt)
    n_rows = len(parsed.rows) + len(parsed.problems)
    with store.session() as session:
        stored = q.stored_clip_keys(session)
        parsed = _with_starts(parsed, stored)
        plan = _plan(parsed, stored, str(path))
        problems = sorted([*parsed.problems, *plan.problems], key=lambda p: p.line)
        lines = [f"{path}:{p.line}: {p.reason}" for p in problems]
        if problems and not skip_invalid:
            raise ClipListError(
                f"{path}: {len(problems)} bad row(s); nothing was imported",
                problems=lines,
                hint="fix the rows, or import the valid ones with --skip-invalid",
            )
        out_rejects: Path | None = None
        if problems:
            out_rejects = rejects_path or (
                settings.data_dir / "rejects" / f"{path.name}.rejects.csv"
            )
            _write_rejects(out_rejects, problems)
        cats, before = _store_categories(session, parsed, plan)
        q.insert_clips(session, plan.new_clips)
        q.update_clip_fields(session, plan.updates)
        events_new = _store_events(session, plan, cats)
    report = ImportReport(
        path=str(path),
        format=parsed.format,
        rows=n_rows,
        clips_new=len(plan.new_clips),
        clips_unchanged=plan.unchanged,
        clips_updated=len(plan.updates),
        categories_new=len(cats) - before,
        events_new=events_new,
        rejected=len(problems),
        rejects_path=str(out_rejects) if out_rejects else None,
        header_line=parsed.header_line,
        problems=lines,
        warnings=parsed.warning_lines(),
    )
    log.info("imported %s: %d new clips", path, report.clips_new)
    return report


@dataclass(frozen=True)
class ClipStats:
    total: int
    by_status: dict[str, int]
    by_split: dict[str, int]
    by_category: dict[str, int]
    curated_by_split: dict[str, int]
    short: int


def clip_stats(store: Store) -> ClipStats:
    with store.session() as session:
        by_status = q.count_by(session, "status")
        short = q.count_by(session, "is_short")
        return ClipStats(
            total=sum(by_status.values()),
            by_status=by_status,
            by_split=q.count_by(session, "split"),
            by_category=q.count_by_category(session),
            curated_by_split=q.count_curated_by_split(session),
            short=short.get("True", 0),
        )


@dataclass(frozen=True)
class ClipRecord:
    clip_id: str
    ytid: str
    start_s: int
    category: str | None
    split: str | None
    status: str
    attempts: int
    error_class: str | None
    error_message: str | None
    media_path: str | None
    wav_path: str | None
    duration_s: float | None
    is_short: bool
    list_segments: str | None
    source: str
    # every list event (AVE: one per Annotations row): "category start-end" plus " (split)"
    events: list[str] = field(default_factory=list)


def list_clips(
    store: Store,
    settings: Settings,
    *,
    status: str | None = None,
    split: str | None = None,
    limit: int | None = None,
) -> list[ClipRecord]:
    with store.session() as session:
        out = []
        listed = q.list_clips(session, status=status, split=split, limit=limit)
        events: dict[int, list[str]] = defaultdict(list)
        for e in q.event_rows(session, [c.id for c, _ in listed]):
            where = f" ({e.split})" if e.split else ""
            events[e.clip_pk].append(f"{e.category} {e.start_s}-{e.end_s}{where}")
        for clip, category in listed:
            out.append(
                ClipRecord(
                    clip_id=clip.clip_id,
                    ytid=clip.ytid,
                    start_s=clip.start_s,
                    category=category,
                    split=clip.split,
                    status=clip.status,
                    attempts=clip.attempts,
                    error_class=clip.error_class,
                    error_message=clip.error_message,
                    media_path=str(settings.data_dir / clip.media_path)
                    if clip.media_path
                    else None,
                    wav_path=str(settings.data_dir / clip.wav_path) if clip.wav_path else None,
                    duration_s=clip.duration_s,
                    is_short=clip.is_short,
                    list_segments=clip.list_segments,
                    source=f"{clip.source_file}:{clip.source_line}",
                    events=events.get(clip.id, []),
                )
            )
        return out

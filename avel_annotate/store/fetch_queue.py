"""The fetch work queue: the ``clip`` table's status, attempts, next-attempt time and lease.

A claim is ONE ``UPDATE ... WHERE id = (SELECT ... LIMIT 1) RETURNING ...`` statement:

- on PostgreSQL the sub-select takes ``FOR UPDATE SKIP LOCKED``, so several processes share the
  queue and never take the same clip (a locked row is skipped, not waited for);
- on SQLite the statement runs under the database write lock from its first step (it is a write
  from the start, like ``BEGIN IMMEDIATE``), so the threads of one process cannot interleave.

A clip is claimable when pending, failed_retryable and due, or in_progress with an expired
lease; with ``QueueFilter.refetch_before`` (``--force``) also when fetched before that time and
not leased. A forced re-fetch keeps the row ``fetched`` (old files and values) while it runs: the
lease alone marks it, and only a verified result replaces it.

Fencing: every claim gets its own lease token ``host:pid:run:seq`` (the run's owner plus a
sequence number), stored in ``lease_owner``. Every write of a claimed clip checks the token in
the same UPDATE statement, so a worker whose lease expired and was taken over changes nothing.
:func:`reclaim_dead_owners` frees the leases of dead processes on this host at once. Callers own
the transaction; nothing here commits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from avel_annotate.domain.vocab import ClipStatus
from avel_annotate.store.tables import Category, Clip, utcnow


@dataclass(frozen=True)
class QueueFilter:
    split: str | None = None
    labels: tuple[str, ...] = ()
    only_ids: tuple[int, ...] | None = None  # restrict to these clip primary keys
    exclude_ids: tuple[int, ...] = ()  # never these (given back earlier in this run)
    refetch_before: datetime | None = None  # --force: also clips fetched before this time


@dataclass(frozen=True)
class Claim:
    id: int
    clip_id: str
    ytid: str
    start_s: int
    attempts: int  # including this one
    error_class: str | None  # the previous failure's class, if any
    token: str = ""  # this claim's lease token (fencing)
    refetch: bool = False  # a forced re-fetch of a fetched clip: the row stays fetched


def _filter_conds(f: QueueFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if f.split is not None:
        conds.append(Clip.split == f.split)
    if f.labels:
        cats = select(Category.id).where(Category.name.in_(f.labels))
        conds.append(Clip.category_id.in_(cats.scalar_subquery()))
    if f.only_ids is not None:
        conds.append(Clip.id.in_(f.only_ids))
    if f.exclude_ids:
        conds.append(Clip.id.not_in(f.exclude_ids))
    return conds


def _claimable(now: datetime, refetch_before: datetime | None = None) -> ColumnElement[bool]:
    conds = [
        Clip.status == ClipStatus.PENDING,
        and_(
            Clip.status == ClipStatus.FAILED_RETRYABLE,
            or_(Clip.next_attempt_at.is_(None), Clip.next_attempt_at <= now),
        ),
        and_(Clip.status == ClipStatus.IN_PROGRESS, Clip.lease_expires_at < now),
    ]
    if refetch_before is not None:
        conds.append(
            and_(
                Clip.status == ClipStatus.FETCHED,
                Clip.fetched_at < refetch_before,
                or_(Clip.lease_owner.is_(None), Clip.lease_expires_at < now),
            )
        )
    return or_(*conds)


def _of_owner(owner: str) -> ColumnElement[bool]:
    """Leases held by ``owner``: the run's owner matches all its claims' tokens."""
    return or_(Clip.lease_owner == owner, Clip.lease_owner.startswith(owner + ":", autoescape=True))


def claim_next(session: Session, token: str, lease_s: float, f: QueueFilter) -> Claim | None:
    """Take the next claimable clip (lowest id) under lease ``token``; None when nothing is due."""
    now = utcnow()
    claimable = _claimable(now, f.refetch_before)
    pick = select(Clip.id).where(claimable, *_filter_conds(f)).order_by(Clip.id).limit(1)
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    refetch = Clip.status == ClipStatus.FETCHED
    stmt = (
        update(Clip)
        .where(Clip.id == pick.scalar_subquery())
        .values(
            status=case((refetch, ClipStatus.FETCHED), else_=ClipStatus.IN_PROGRESS),
            lease_owner=token,
            lease_expires_at=now + timedelta(seconds=lease_s),
            attempts=case((refetch, Clip.attempts), else_=Clip.attempts + 1),
            updated_at=now,
        )
        .returning(
            Clip.id,
            Clip.clip_id,
            Clip.ytid,
            Clip.start_s,
            Clip.attempts,
            Clip.error_class,
            Clip.status,
        )
    )
    row = session.execute(stmt).first()
    if row is None:
        return None
    pk, clip_id, ytid, start_s, attempts, error_class, status = row
    return Claim(
        pk,
        clip_id,
        ytid,
        start_s,
        attempts,
        error_class,
        token=token,
        refetch=status == ClipStatus.FETCHED,
    )


def renew_leases(session: Session, owner: str, lease_s: float) -> int:
    stmt = (
        update(Clip)
        .where(_of_owner(owner), Clip.status.in_((ClipStatus.IN_PROGRESS, ClipStatus.FETCHED)))
        .values(lease_expires_at=utcnow() + timedelta(seconds=lease_s))
    )
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def _owned(clip_pk: int, token: str) -> ColumnElement[bool]:
    """The fencing check: this claim's token still holds the clip's lease."""
    return and_(
        Clip.id == clip_pk,
        Clip.lease_owner == token,
        Clip.status.in_((ClipStatus.IN_PROGRESS, ClipStatus.FETCHED)),
    )


def mark_fetched(session: Session, clip_pk: int, owner: str, values: dict[str, Any]) -> bool:
    """Record a fetched clip; False when ``owner`` no longer holds the lease (nothing changed)."""
    now = utcnow()
    stmt = (
        update(Clip)
        .where(_owned(clip_pk, owner))
        .values(
            status=ClipStatus.FETCHED,
            lease_owner=None,
            lease_expires_at=None,
            next_attempt_at=None,
            error_class=None,
            error_message=None,
            fetched_at=now,
            updated_at=now,
            **values,
        )
    )
    return bool(session.execute(stmt).rowcount == 1)  # type: ignore[attr-defined]


def mark_failed(
    session: Session,
    clip_pk: int,
    owner: str,
    *,
    status: str,
    error_class: str,
    error_message: str,
    retry_at: datetime | None,
    refund_attempt: bool,
) -> bool:
    values: dict[str, Any] = {
        "status": status,
        "lease_owner": None,
        "lease_expires_at": None,
        "next_attempt_at": retry_at,
        "error_class": error_class,
        "error_message": error_message,
        "updated_at": utcnow(),
    }
    if refund_attempt:
        values["attempts"] = Clip.attempts - 1
    stmt = update(Clip).where(_owned(clip_pk, owner)).values(**values)
    return bool(session.execute(stmt).rowcount == 1)  # type: ignore[attr-defined]


def end_refetch(session: Session, clip_pk: int, token: str) -> bool:
    """A forced re-fetch failed: drop its lease; the fetched row stays exactly as it was."""
    stmt = (
        update(Clip)
        .where(_owned(clip_pk, token), Clip.status == ClipStatus.FETCHED)
        .values(lease_owner=None, lease_expires_at=None)
    )
    return bool(session.execute(stmt).rowcount == 1)  # type: ignore[attr-defined]


def requeue(session: Session, clip_pks: Sequence[int]) -> int:
    """Give clips back that failed only because of the environment: pending, attempt refunded.

    Only clips no one holds (the breaker's streak, already recorded); the error stays visible.
    """
    if not clip_pks:
        return 0
    stmt = (
        update(Clip)
        .where(
            Clip.id.in_(clip_pks),
            Clip.status == ClipStatus.FAILED_RETRYABLE,
            Clip.lease_owner.is_(None),
        )
        .values(status=ClipStatus.PENDING, next_attempt_at=None, attempts=_minus_one(session))
    )
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def _minus_one(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.greatest(Clip.attempts - 1, 0)
    return func.max(Clip.attempts - 1, 0)


def release(session: Session, owner: str, clip_pks: Sequence[int] | None = None) -> int:
    """Give claimed clips back (interrupted run): pending again, the attempt not counted.

    ``owner`` is a run's owner (all its claims) or one claim's token. A forced re-fetch only
    loses its lease: the clip stays fetched with its old files.
    """
    keep = [_of_owner(owner), Clip.status == ClipStatus.FETCHED]
    if clip_pks is not None:
        keep.append(Clip.id.in_(clip_pks))
    session.execute(update(Clip).where(*keep).values(lease_owner=None, lease_expires_at=None))
    conds = [_of_owner(owner), Clip.status == ClipStatus.IN_PROGRESS]
    if clip_pks is not None:
        conds.append(Clip.id.in_(clip_pks))
    stmt = (
        update(Clip)
        .where(*conds)
        .values(
            status=ClipStatus.PENDING,
            lease_owner=None,
            lease_expires_at=None,
            attempts=_minus_one(session),
            updated_at=utcnow(),
        )
    )
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def reclaim_dead_owners(session: Session, host: str, is_alive: Callable[[int], bool]) -> int:
    """Free the leases of processes on ``host`` that no longer run (killed, crashed)."""
    owners = session.scalars(
        select(Clip.lease_owner)
        .where(
            Clip.status.in_((ClipStatus.IN_PROGRESS, ClipStatus.FETCHED)),
            Clip.lease_owner.startswith(f"{host}:", autoescape=True),
        )
        .distinct()
    ).all()
    dead = []
    for owner in owners:
        assert owner is not None
        parts = owner.split(":")
        if len(parts) >= 2 and parts[1].isdigit() and not is_alive(int(parts[1])):
            dead.append(owner)
    n = 0
    for owner in dead:
        n += release(session, owner)
    return n


def reset_for_run(
    session: Session,
    f: QueueFilter,
    *,
    statuses: Sequence[str],
    limit: int | None,
) -> int:
    """Make clips in ``statuses`` (filtered, at most ``limit``) pending again, attempts zeroed."""
    pick = select(Clip.id).where(Clip.status.in_(statuses), *_filter_conds(f)).order_by(Clip.id)
    if limit is not None:
        pick = pick.limit(limit)
    ids = list(session.scalars(pick))
    if not ids:
        return 0
    stmt = (
        update(Clip)
        .where(Clip.id.in_(ids))
        .values(
            status=ClipStatus.PENDING,
            attempts=0,
            next_attempt_at=None,
            error_class=None,
            error_message=None,
            updated_at=utcnow(),
        )
    )
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def claimable_count(session: Session, f: QueueFilter) -> int:
    claimable = _claimable(utcnow(), f.refetch_before)
    stmt = select(func.count()).select_from(Clip).where(claimable, *_filter_conds(f))
    return int(session.scalar(stmt) or 0)


def waiting_count(session: Session, f: QueueFilter) -> tuple[int, datetime | None]:
    """Retryable clips not yet due, and the earliest time one is."""
    conds = [Clip.status == ClipStatus.FAILED_RETRYABLE, Clip.next_attempt_at > utcnow()]
    stmt = select(func.count(), func.min(Clip.next_attempt_at)).where(*conds, *_filter_conds(f))
    n, first = session.execute(stmt).one()
    return int(n or 0), first


def status_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(Clip.status, func.count()).group_by(Clip.status))
    return {status: int(n) for status, n in rows}


def error_counts(session: Session) -> dict[str, int]:
    stmt = (
        select(Clip.error_class, func.count())
        .where(Clip.error_class.is_not(None), Clip.status != ClipStatus.FETCHED)
        .group_by(Clip.error_class)
    )
    return {str(cls): int(n) for cls, n in session.execute(stmt)}


def fetched_since(session: Session, since: datetime) -> tuple[int, datetime | None]:
    stmt = select(func.count(), func.min(Clip.fetched_at)).where(
        Clip.status == ClipStatus.FETCHED, Clip.fetched_at >= since
    )
    n, first = session.execute(stmt).one()
    return int(n or 0), first


def short_count(session: Session) -> int:
    stmt = select(func.count()).select_from(Clip).where(Clip.is_short.is_(True))
    return int(session.scalar(stmt) or 0)

"""Queries over this store's Label Studio projects and the re-check tasks in them. Callers own
the transaction."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from avel_annotate.domain.ls_identity import project_key
from avel_annotate.domain.ls_results import is_recheck_title
from avel_annotate.store.tables import Annotation, Clip, LsProject, LsTask

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProjectRow:
    """A store project as the services see it (read in one session, used after it)."""

    pk: int
    title: str
    ls_url: str
    ls_project_id: int  # negative: still to be created on the server
    label_config_sha256: str
    created_at: datetime

    @property
    def key(self) -> str:
        """The identity key the server-side project carries in its description."""
        return project_key(self.pk, self.title, self.created_at)


def _row(p: LsProject) -> ProjectRow:
    return ProjectRow(p.id, p.title, p.ls_url, p.ls_project_id, p.label_config_sha256, p.created_at)


def projects_titled(session: Session, title: str) -> list[ProjectRow]:
    return [_row(p) for p in session.scalars(select(LsProject).where(LsProject.title == title))]


def follow(session: Session, project_pk: int, url: str, ls_project_id: int) -> ProjectRow:
    """Record where the project is now reached; a stale row holding that place gives it up."""
    row = session.get(LsProject, project_pk)
    assert row is not None
    if (row.ls_url, row.ls_project_id) == (url, ls_project_id):
        return _row(row)
    stale = session.scalars(
        select(LsProject).where(
            LsProject.ls_url == url,
            LsProject.ls_project_id == ls_project_id,
            LsProject.id != row.id,
        )
    ).first()
    if stale is not None:
        stale.ls_url = f"gone:{stale.ls_url}"[:300]
        session.flush()
    log.info(
        "project %r (key %s) is now %s project %d (was %s project %d)",
        row.title,
        _row(row).key,
        url,
        ls_project_id,
        row.ls_url,
        row.ls_project_id,
    )
    row.ls_url, row.ls_project_id = url, ls_project_id
    session.flush()
    return _row(row)


def pending_project(session: Session, url: str, title: str, config_sha: str) -> ProjectRow:
    """A row for a project still to be created on the server (committed before it is, so a
    crash in between leaves a key that the next push finds)."""
    pending = session.scalars(
        select(LsProject)
        .where(LsProject.title == title, LsProject.ls_project_id < 0)
        .order_by(LsProject.id)
    ).first()
    if pending is not None:
        return _row(pending)
    row = LsProject(ls_url=url, ls_project_id=0, title=title, label_config_sha256=config_sha)
    session.add(row)
    session.flush()
    row.ls_project_id = -row.id
    session.flush()
    return _row(row)


def record_project(
    session: Session, project_pk: int, url: str, ls_project_id: int, config_sha: str, storage: int
) -> None:
    """Where the project is, the label config it has and its local-files storage."""
    follow(session, project_pk, url, ls_project_id)
    row = session.get(LsProject, project_pk)
    assert row is not None
    row.label_config_sha256 = config_sha
    row.storage_id = storage


def set_storage(session: Session, project_pk: int, storage_id: int) -> None:
    row = session.get(LsProject, project_pk)
    assert row is not None
    row.storage_id = storage_id


# -- re-check tasks -----------------------------------------------------------------------------


def first_annotators(
    session: Session, clip_pks: Collection[int], first_project: int
) -> dict[int, list[int]]:
    """Label Studio user ids of every first-pass annotator (usable or skipped) per clip."""
    out: dict[int, set[int]] = {}
    wanted = list(clip_pks)
    for i in range(0, len(wanted), 500):
        stmt = (
            select(Annotation.clip_id, Annotation.annotator_ls_id)
            .join(LsTask, Annotation.task_id == LsTask.id)
            .where(
                LsTask.project_id == first_project,
                Annotation.clip_id.in_(wanted[i : i + 500]),
                Annotation.annotator_ls_id.is_not(None),
                Annotation.deleted_at.is_(None),
            )
        )
        for clip_pk, uid in session.execute(stmt):
            if uid is not None:
                out.setdefault(clip_pk, set()).add(int(uid))
    return {c: sorted(u) for c, u in out.items()}


def clip_media(session: Session, clip_pks: Collection[int]) -> dict[int, tuple[str, str]]:
    """``clip pk -> (clip id, media path)``."""
    wanted = list(clip_pks)
    out: dict[int, tuple[str, str]] = {}
    for i in range(0, len(wanted), 500):
        stmt = select(Clip.id, Clip.clip_id, Clip.media_path).where(
            Clip.id.in_(wanted[i : i + 500])
        )
        out.update({r[0]: (r[1], str(r[2])) for r in session.execute(stmt)})
    return out


def recheck_tasks_of(
    session: Session, clip_pks: Iterable[int] | None = None
) -> dict[int, tuple[int, int]]:
    """``clip pk -> (task pk, ls task id)`` of re-check tasks (any re-check project)."""
    stmt = (
        select(LsTask.clip_id, LsTask.id, LsTask.ls_task_id, LsProject.title)
        .join(LsProject, LsTask.project_id == LsProject.id)
        .order_by(LsTask.id)
    )
    if clip_pks is not None:
        stmt = stmt.where(LsTask.clip_id.in_(list(clip_pks)))
    return {r[0]: (r[1], r[2]) for r in session.execute(stmt) if is_recheck_title(r[3])}

"""Which Label Studio project on the server at hand is this store's project of a given title.

Found by the key in the project's description (``domain.ls_identity``), never by URL: the
store row follows the project to whatever URL it is reached at. A project pushed by an older
version (no key, same URL and id as the store row) is stamped on first sight.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from avel_annotate.config import Settings
from avel_annotate.domain.labelconfig import config_sha256
from avel_annotate.domain.ls_identity import describe, key_in, project_key
from avel_annotate.errors import NotFoundError
from avel_annotate.labelstudio.client import LsClient
from avel_annotate.services.labelstudio import STORAGE_TITLE, label_config
from avel_annotate.services.store import store_session
from avel_annotate.store.clips import category_names
from avel_annotate.store.tables import LsProject

log = logging.getLogger(__name__)


def key_of(row: LsProject) -> str:
    return project_key(row.id, row.title, row.created_at)


def follow(session: Session, row: LsProject, url: str, ls_project_id: int) -> None:
    """Record where the project is now reached; a stale row holding that place gives it up."""
    if (row.ls_url, row.ls_project_id) == (url, ls_project_id):
        return
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
        key_of(row),
        url,
        ls_project_id,
        row.ls_url,
        row.ls_project_id,
    )
    row.ls_url, row.ls_project_id = url, ls_project_id
    session.flush()


def find_project(session: Session, client: LsClient, title: str) -> LsProject | None:
    """This store's project ``title`` on the client's server, else None."""
    rows = list(session.scalars(select(LsProject).where(LsProject.title == title)))
    if not rows:
        return None
    by_key = {key_of(r): r for r in rows}
    on_server = client.projects()
    for pid, _title, description in on_server:
        row = by_key.get(key_in(description) or "")
        if row is not None:
            follow(session, row, client.url, pid)
            return row
    unmarked = {pid for pid, _t, d in on_server if key_in(d) is None}
    for row in sorted(rows, key=lambda r: -r.id):
        if row.ls_url == client.url and row.ls_project_id in unmarked:
            client.update_project(row.ls_project_id, description=describe(key_of(row)))
            return row
    return None


def require_project(session: Session, client: LsClient, title: str) -> LsProject:
    row = find_project(session, client, title)
    if row is None:
        raise NotFoundError(
            f"no project {title!r} of this store on {client.url}",
            "run `avel annotate push` (it finds the project under any URL, or creates it)",
        )
    return row


def pending_project(session: Session, client: LsClient, title: str, config_sha: str) -> LsProject:
    """A row for a project still to be created on the server (committed before it is, so a
    crash in between leaves a key that the next push finds)."""
    pending = session.scalars(
        select(LsProject)
        .where(LsProject.title == title, LsProject.ls_project_id < 0)
        .order_by(LsProject.id)
    ).first()
    if pending is not None:
        return pending
    row = LsProject(ls_url=client.url, ls_project_id=0, title=title, label_config_sha256=config_sha)
    session.add(row)
    session.flush()
    row.ls_project_id = -row.id
    session.flush()
    return row


def ensure_project(
    client: LsClient,
    settings: Settings,
    title: str,
    project_settings: dict[str, Any],
    *,
    reapply: bool = False,
) -> tuple[int, int, str]:
    """``(store project pk, Label Studio project id, project key)``: this store's project of
    ``title`` on the server however it is reached (found by its key), else created with our
    label config and ``project_settings`` (applied again each time when ``reapply``, so one
    changed by hand gets them back). Its local-files storage is pointed at the clips folder as
    it is now (the data dir may have moved)."""
    with store_session(settings) as session:
        config = label_config(category_names(session))
        sha = config_sha256(config)
        proj = find_project(session, client, title) or pending_project(session, client, title, sha)
        pk, pid, key = proj.id, proj.ls_project_id, key_of(proj)
        stored_sha = proj.label_config_sha256
    if pid < 0:
        pid = client.create_project(title, config, description=describe(key), **project_settings)
        stored_sha = sha
    if stored_sha != sha:
        client.update_project(pid, label_config=config)
    if reapply:
        client.update_project(pid, **project_settings)
    clips_dir = settings.clips_dir.resolve()
    clips_dir.mkdir(parents=True, exist_ok=True)
    storage = client.ensure_local_storage(pid, str(clips_dir), STORAGE_TITLE)
    with store_session(settings) as session:
        row = session.get(LsProject, pk)
        assert row is not None
        follow(session, row, client.url, pid)
        row.label_config_sha256 = sha
        row.storage_id = storage
    return pk, pid, key

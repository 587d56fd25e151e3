"""Which Label Studio project on the server at hand is this store's project of a given title.

Found by the key in the project's description (``domain.ls_identity``), never by URL: the
store row follows the project to whatever URL it is reached at. A project pushed by an older
version (no key, same URL and id as the store row) is stamped on first sight.

No session is open during an HTTP call: what is needed is read in one short session, the server
is asked, and what it answered is recorded in another.
"""

from __future__ import annotations

import logging
from typing import Any

from avel_annotate.config import Settings
from avel_annotate.domain.labelconfig import config_sha256
from avel_annotate.domain.ls_identity import describe, key_in
from avel_annotate.errors import NotFoundError
from avel_annotate.labelstudio.client import LsClient
from avel_annotate.services.labelstudio import STORAGE_TITLE, label_config
from avel_annotate.store import ls_projects as lq
from avel_annotate.store.clips import category_names
from avel_annotate.store.database import Store
from avel_annotate.store.ls_projects import ProjectRow

log = logging.getLogger(__name__)

DEFAULT_PROJECT = "avel"

__all__ = ["DEFAULT_PROJECT", "ProjectRow", "ensure_project", "find_project", "require_project"]


def find_project(store: Store, client: LsClient, title: str) -> ProjectRow | None:
    """This store's project ``title`` on the client's server, else None."""
    with store.session() as s:
        rows = lq.projects_titled(s, title)
    if not rows:
        return None
    on_server = client.projects()
    by_key = {r.key: r for r in rows}
    for pid, _title, description in on_server:
        row = by_key.get(key_in(description) or "")
        if row is not None:
            with store.session() as s:
                return lq.follow(s, row.pk, client.url, pid)
    unmarked = {pid for pid, _t, d in on_server if key_in(d) is None}
    for row in sorted(rows, key=lambda r: -r.pk):
        if row.ls_url == client.url and row.ls_project_id in unmarked:
            client.update_project(row.ls_project_id, description=describe(row.key))
            return row
    return None


def require_project(store: Store, client: LsClient, title: str) -> ProjectRow:
    row = find_project(store, client, title)
    if row is None:
        raise NotFoundError(
            f"no project {title!r} of this store on {client.url}",
            "run `avel annotate push` (it finds the project under any URL, or creates it)",
        )
    return row


def ensure_project(
    store: Store,
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
    with store.session() as s:
        config = label_config(category_names(s))
    sha = config_sha256(config)
    proj = find_project(store, client, title)
    if proj is None:
        with store.session() as s:
            proj = lq.pending_project(s, client.url, title, sha)
    pid, stored_sha = proj.ls_project_id, proj.label_config_sha256
    if pid < 0:
        pid = client.create_project(
            title, config, description=describe(proj.key), **project_settings
        )
        stored_sha = sha
    if stored_sha != sha:
        client.update_project(pid, label_config=config)
    if reapply:
        client.update_project(pid, **project_settings)
    clips_dir = settings.clips_dir.resolve()
    clips_dir.mkdir(parents=True, exist_ok=True)
    storage = client.ensure_local_storage(pid, str(clips_dir), STORAGE_TITLE)
    with store.session() as s:
        lq.record_project(s, proj.pk, client.url, pid, sha, storage)
    return proj.pk, pid, proj.key

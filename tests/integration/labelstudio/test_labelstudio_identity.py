"""Issue 10 item 1: the project is found by the identity it carries on the server, not by URL.

Between every step the server is restarted on another port and reached under another host name
(``localhost`` / ``127.0.0.1``). Before, the second pull said "no project 'avel' pushed to ...";
pushing again then created every task a second time and pulls stored annotations twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from avel_annotate.config import Settings
from avel_annotate.domain.ls_identity import key_in
from avel_annotate.domain.ls_results import labels_to_result
from avel_annotate.labelstudio.client import LsClient
from avel_annotate.labelstudio.server import ServerHandle, free_port, start_server
from avel_annotate.services import annotate, qc
from avel_annotate.services.curation import curated_labels
from avel_annotate.services.store import open_store
from avel_annotate.store.database import Store
from avel_annotate.store.tables import Annotation, AnnotationRevision, LsProject, LsTask, QcDraw

from .conftest import ADMIN, PASSWORD, TOKEN, add_clips, start_copy

pytestmark = pytest.mark.labelstudio


class Moving:
    """One Label Studio data dir, restarted on a new port and host name at each ``move``."""

    def __init__(self, handle: ServerHandle, settings: Settings) -> None:
        self.handle, self.base, self.n = handle, settings, 0

    def move(self) -> Settings:
        self.handle.stop()
        self.n += 1
        self.handle = start_server(
            self.handle.ls_data_dir,
            self.base.data_dir,
            token=TOKEN,
            username=ADMIN,
            password=PASSWORD,
            port=free_port(18700 + 37 * self.n),
        )
        host = "localhost" if self.n % 2 else "127.0.0.1"
        return self.base.with_(ls_url=f"http://{host}:{self.handle.port}", ls_api_key=TOKEN)


@pytest.fixture
def moving(ls_template: Path, tmp_path: Path, settings: Settings) -> Iterator[Moving]:
    m = Moving(start_copy(ls_template, tmp_path / "ls", settings.data_dir), settings)
    yield m
    m.handle.stop()


def _store(settings: Settings) -> dict[str, object]:
    with open_store(settings) as opened, opened.session() as s:

        def count(table: type) -> int:
            return int(s.scalar(select(func.count()).select_from(table)) or 0)

        state: dict[str, object] = {
            "projects": count(LsProject),
            "tasks": count(LsTask),
            "annotations": count(Annotation),
            "revisions": count(AnnotationRevision),
            "draws": count(QcDraw),
            "live": count(Annotation)
            - int(
                s.scalar(
                    select(func.count())
                    .select_from(Annotation)
                    .where(Annotation.deleted_at.is_not(None))
                )
                or 0
            ),
        }
    with open_store(settings) as st:
        state["curated"] = sorted((c.clip_id, c.segments, c.provenance) for c in curated_labels(st))
    return state


def test_store_is_unchanged_whatever_port_and_host_name(
    moving: Moving, settings: Settings, store: Store
):
    s = settings.with_(ls_url=moving.handle.url, ls_api_key=TOKEN)
    ids = add_clips(s, 6, ["dog", "cat"])
    pushed = annotate.push(store, s)
    assert pushed.created == 6
    client = LsClient(s.ls_url, TOKEN)
    admin, _ = client.whoami()
    bob = client.create_user("bob@avel.local")
    tasks = {c: t for t, c in client.task_clip_ids(pushed.ls_project_id)}
    for clip in ids:
        client.create_annotation(
            tasks[clip], labels_to_result("0111000000", "dog"), completed_by=admin
        )

    s = moving.move()  # localhost, new port
    assert annotate.pull(store, s).new == 6
    after_pull = _store(s)
    assert after_pull["annotations"] == 6 and after_pull["projects"] == 1

    s = moving.move()  # 127.0.0.1, new port
    sample = qc.qc_sample(store, s, fraction=0.5, seed=3)
    assert sample.drawn == 3 and sample.recheck_tasks_created == 3
    drawn = [c for c in ids if _drawn(s, c)]
    client = LsClient(s.ls_url, TOKEN)
    assert sample.recheck_ls_project_id is not None
    rechecks = {c: t for t, c in client.task_clip_ids(sample.recheck_ls_project_id)}
    assert sorted(rechecks) == sorted(drawn)
    for clip in drawn:
        client.create_annotation(
            rechecks[clip], labels_to_result("0111000000", "dog"), completed_by=bob
        )

    s = moving.move()  # the re-check project too is found by its key, not re-created
    assert qc.qc_sample(store, s, fraction=0.5, seed=3).recheck_tasks_created == 0

    s = moving.move()
    pulled = annotate.pull(store, s)
    assert (pulled.new, pulled.updated, pulled.deleted) == (3, 0, 0)
    settled = _store(s)
    # 6 first-pass tasks and 3 re-check tasks; the re-check placeholders are never stored
    assert settled["annotations"] == 9 and settled["live"] == 9 and settled["tasks"] == 9
    assert settled["projects"] == 2
    assert sum(p == "agreement" for _c, _s, p in settled["curated"]) == 3  # type: ignore[union-attr]

    # and again, twice more under other names: nothing is created, stored twice or re-queued
    for _ in range(2):
        s = moving.move()
        again = annotate.pull(store, s)
        assert (again.new, again.updated, again.deleted) == (0, 0, 0)
        assert annotate.push(store, s).created == 0
        again_sample = qc.qc_sample(store, s, fraction=0.5, seed=3)
        assert (again_sample.drawn, again_sample.recheck_tasks_created) == (0, 0)
        assert _store(s) == {**settled, "draws": settled["draws"]}
    client = LsClient(s.ls_url, TOKEN)
    keyed = sorted(p for p, _t, d in client.projects() if key_in(d))
    assert keyed == sorted([pushed.ls_project_id, sample.recheck_ls_project_id])
    assert sorted(c for _t, c in client.task_clip_ids(pushed.ls_project_id)) == sorted(ids)
    rpid = sample.recheck_ls_project_id
    assert sorted(c for _t, c in client.task_clip_ids(rpid)) == sorted(drawn)
    for project_id in (pushed.ls_project_id, rpid):
        exported = client.export_tasks(project_id)
        key = key_in(dict((p, d) for p, _t, d in client.projects())[project_id])
        assert {t["data"]["avel_project"] for t in exported} == {key}
        assert {t["meta"]["avel_project"] for t in exported} == {key}


def _drawn(settings: Settings, clip_id: str) -> bool:
    from avel_annotate.store.tables import Clip

    with open_store(settings) as opened, opened.session() as s:
        return bool(
            s.scalar(
                select(func.count())
                .select_from(QcDraw)
                .join(Clip, QcDraw.clip_id == Clip.id)
                .where(Clip.clip_id == clip_id, QcDraw.selected.is_(True))
            )
        )


def test_two_stores_on_one_server_never_share_a_project(
    ls_server: ServerHandle, settings: Settings, store: Store
):
    from avel_annotate.config import load_settings

    a = settings.with_(ls_url=ls_server.url, ls_api_key=TOKEN)
    other = settings.data_dir / "other-data"  # inside the server's local-files root
    other.mkdir()
    b = load_settings(data_dir=other, overrides={"progress": False}, environ={}).with_(
        ls_url=ls_server.url, ls_api_key=TOKEN
    )
    add_clips(a, 2, ["dog"])
    add_clips(b, 3, ["dog"])
    with open_store(b) as store_b:
        pa, pb = annotate.push(store, a), annotate.push(store_b, b)
    assert pa.ls_project_id != pb.ls_project_id and (pa.created, pb.created) == (2, 3)
    assert annotate.push(store, a).ls_project_id == pa.ls_project_id

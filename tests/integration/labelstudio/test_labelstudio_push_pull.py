"""Push and pull against a real Label Studio server (started by the fixtures)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from avel_annotate.config import Settings
from avel_annotate.domain.ls_results import labels_to_result
from avel_annotate.errors import LabelStudioError
from avel_annotate.labelstudio.client import LsClient
from avel_annotate.services import annotate
from avel_annotate.services.annotate import PushOptions
from avel_annotate.services.curation import curated_labels
from avel_annotate.services.store import Store, open_store
from avel_annotate.store.tables import Annotation, AnnotationRevision, LsTask

from .conftest import TOKEN, add_clips

pytestmark = pytest.mark.labelstudio


def _count(settings: Settings, table) -> int:
    with open_store(settings) as opened, opened.session() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def test_push_is_idempotent_and_media_is_served(ls_settings: Settings, store: Store):
    add_clips(ls_settings, 7, ["dog", "cat"])
    first = annotate.push(store, ls_settings, PushOptions(batch_size=3))
    assert first.created == 7 and first.reconciled == 0
    again = annotate.push(store, ls_settings)
    assert again.created == 0 and again.already_pushed == 7
    client = LsClient(ls_settings.ls_url, TOKEN)
    server = client.task_clip_ids(first.ls_project_id)
    assert len(server) == 7 and len({c for _, c in server}) == 7
    assert _count(ls_settings, LsTask) == 7
    video = client.export_tasks(first.ls_project_id)[0]["data"]["video"]
    r = httpx.get(ls_settings.ls_url + video, headers={"Authorization": f"Token {TOKEN}"})
    assert r.status_code == 200 and r.content.startswith(b"\x00\x00\x00\x18ftyp")


def test_pull_stores_updates_and_marks_deleted(ls_settings: Settings, store: Store):
    add_clips(ls_settings, 3, ["dog", "cat"])
    report = annotate.push(store, ls_settings)
    client = LsClient(ls_settings.ls_url, TOKEN)
    me, _ = client.whoami()
    tasks = sorted(t for t, _ in client.task_clip_ids(report.ls_project_id))
    a1 = client.create_annotation(
        tasks[0], labels_to_result("1100000000", "dog"), completed_by=me, lead_time=4.5
    )
    a2 = client.create_annotation(tasks[1], labels_to_result("0000000000", "cat"), completed_by=me)
    client.create_annotation(tasks[2], [], completed_by=me, was_cancelled=True)
    pulled = annotate.pull(store, ls_settings)
    assert (pulled.new, pulled.updated, pulled.deleted, pulled.cancelled) == (3, 0, 0, 1)
    assert pulled.curated.added == 2  # the skip never becomes a label
    assert annotate.pull(store, ls_settings).new == 0
    assert _count(ls_settings, Annotation) == 3

    client.update_annotation(a1, result=labels_to_result("1110000000", "dog"))
    client.delete_annotation(a2)
    again = annotate.pull(store, ls_settings)
    assert (again.new, again.updated, again.deleted) == (0, 1, 1)
    assert _count(ls_settings, AnnotationRevision) == 5  # 3 created, 1 updated, 1 deleted
    labels = {c.segments: c for c in curated_labels(store, "train")}
    assert set(labels) == {"1110000000"} and labels["1110000000"].provenance == "first_pass"
    assert labels["1110000000"].category == "dog"
    assert annotate.pull(store, ls_settings).updated == 0


def test_server_down_gives_one_line_error_naming_the_url(settings: Settings, store: Store):
    url = "http://127.0.0.1:9"
    with pytest.raises(LabelStudioError) as info:
        annotate.push(store, settings.with_(ls_url=url, ls_api_key="x" * 40))
    assert url in info.value.one_line() and "\n" not in info.value.one_line()
    assert "avel labelstudio serve" in info.value.one_line()


def _curated_and_annotations(settings: Settings) -> tuple[list[tuple[str, str]], list[tuple]]:
    with open_store(settings) as opened, opened.session() as s:
        anns = sorted(
            (a.ls_annotation_id, a.segments, a.deleted_at is None, a.round)
            for a in s.scalars(select(Annotation))
        )
    with open_store(settings) as st:
        return sorted((c.clip_id, c.segments) for c in curated_labels(st)), anns


def test_malformed_annotation_is_rejected_and_nothing_changes(ls_settings: Settings, store: Store):
    """Issue 16 item 6: before, the bad annotation was recorded as deleted and its clip lost
    its curated label."""
    add_clips(ls_settings, 2, ["dog"])
    report = annotate.push(store, ls_settings)
    client = LsClient(ls_settings.ls_url, TOKEN)
    me, _ = client.whoami()
    tasks = sorted(t for t, _ in client.task_clip_ids(report.ls_project_id))
    a1 = client.create_annotation(tasks[0], labels_to_result("1100000000", "dog"), completed_by=me)
    client.create_annotation(tasks[1], labels_to_result("0010000000", "dog"), completed_by=me)
    assert annotate.pull(store, ls_settings).new == 2
    before = _curated_and_annotations(ls_settings)
    revisions = _count(ls_settings, AnnotationRevision)
    bad = labels_to_result("1100000000", "dog")
    bad[0]["value"]["choices"] = ["10-11s"]  # not a second of the label config
    client.update_annotation(a1, result=bad)
    with pytest.raises(annotate.MalformedAnnotationError) as info:
        annotate.pull(store, ls_settings)
    message = info.value.one_line()
    assert f"annotation {a1} of task {tasks[0]}" in message and "'10-11s'" in message
    assert "\n" not in message
    assert _curated_and_annotations(ls_settings) == before
    assert _count(ls_settings, AnnotationRevision) == revisions

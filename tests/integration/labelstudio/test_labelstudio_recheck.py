"""Issue 10 item 4: an independent re-check, on a real server with real annotator accounts.

Before, `qc sample` re-queued the drawn task in the first-pass project (``overlap=2``): the
second annotator started from the model's prediction and could read the first annotation. Now
the drawn clips go to a separate re-check project without predictions or first passes, and the
first annotator's stream never serves them their own re-check (asked of the server itself,
``GET /api/projects/<id>/next`` as each user). A disagreement's third pass goes to the same
re-check task and is served to neither of the first two; an agreeing third pass curates the clip.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import delete, func, insert, select

from avel_annotate.config import Settings
from avel_annotate.domain.ls_identity import key_in
from avel_annotate.labelstudio.client import LsClient
from avel_annotate.labelstudio.server import ServerHandle
from avel_annotate.services import annotate, qc, recheck
from avel_annotate.services.annotate import PushOptions
from avel_annotate.services.curation import curated_labels
from avel_annotate.services.store import open_store
from avel_annotate.store.database import Store
from avel_annotate.store.tables import (
    Annotation,
    Clip,
    LsProject,
    LsTask,
    ModelVersion,
    Prediction,
    QcDraw,
)

from .annotators import Annotator
from .conftest import TOKEN, add_clips

pytestmark = pytest.mark.labelstudio

FIRST = "0011110000"
OTHER = "0011111000"


@pytest.fixture
def ls_any(any_settings: Settings, ls_server: ServerHandle) -> Settings:
    """A real server, and the store on SQLite and on PostgreSQL."""
    return any_settings.with_(ls_url=ls_server.url, ls_api_key=TOKEN)


@pytest.fixture
def team(ls_any: Settings) -> Iterator[dict[str, Annotator]]:
    invite = LsClient(ls_any.ls_url, TOKEN).invite_url()
    people = {
        n: Annotator(ls_any.ls_url, invite, f"{n}@lab.example") for n in ("ann", "bob", "cid")
    }
    yield people
    for p in people.values():
        p.close()


def _add_model(settings: Settings) -> None:
    with open_store(settings) as opened, opened.session() as s:
        mv = ModelVersion(
            name="m1", source="trained", path="models/m1", config="{}", categories='["dog"]'
        )
        s.add(mv)
        s.flush()
        s.execute(
            insert(Prediction),
            [
                {
                    "clip_id": c.id,
                    "model_version_id": mv.id,
                    "event_probs": json.dumps([0.9] * 10),
                    "category_probs": "[1.0]",
                    "segments": "1" * 10,
                    "category_id": c.category_id,
                    "score": 0.9,
                }
                for c in s.scalars(select(Clip))
            ],
        )


def _drawn(settings: Settings) -> list[str]:
    with open_store(settings) as opened, opened.session() as s:
        return sorted(
            s.scalars(
                select(Clip.clip_id)
                .join(QcDraw, QcDraw.clip_id == Clip.id)
                .where(QcDraw.selected.is_(True))
            )
        )


def _label_stream(who: Annotator, pid: int, answer: dict[str, str]) -> list[str]:
    """Everything the stream serves ``who``, labelled; the clip ids, in order."""
    served = []
    while (task := who.next_task(pid)) is not None:
        clip = task["data"]["clip_id"]
        assert clip not in served, f"{who.email} was served {clip} twice"
        served.append(clip)
        who.submit(task["id"], answer.get(clip, FIRST), "dog")
    return served


def test_recheck_project_is_independent_and_never_serves_the_first_annotator(
    ls_any: Settings, team: dict[str, Annotator], any_store: Store
):
    ann, bob, cid = team["ann"], team["bob"], team["cid"]
    ids = add_clips(ls_any, 4, ["dog"])
    _add_model(ls_any)
    pushed = annotate.push(any_store, ls_any, PushOptions(model="m1"))
    assert pushed.with_predictions == 4
    assert sorted(_label_stream(ann, pushed.ls_project_id, {})) == ids  # ann: the first pass
    assert annotate.pull(any_store, ls_any).new == 4

    sample = qc.qc_sample(any_store, ls_any, fraction=0.5, seed=2)
    assert (sample.drawn, sample.recheck_tasks_created) == (2, 2)
    assert sample.recheck_project == "avel (re-check)"
    rpid = sample.recheck_ls_project_id
    assert rpid is not None and rpid != pushed.ls_project_id
    drawn = _drawn(ls_any)
    admin = LsClient(ls_any.ls_url, TOKEN)
    project = admin._sdk.projects.get(rpid)
    assert project.title == "avel (re-check)" and key_in(project.description)
    assert project.show_collab_predictions is False and project.skip_queue == "REQUEUE_FOR_OTHERS"
    assert project.show_annotation_history is False and project.maximum_annotations == 1
    exported = {t["data"]["clip_id"]: t for t in admin.export_tasks(rpid)}
    assert sorted(exported) == drawn  # the drawn clips, matched by clip id
    for t in exported.values():
        assert t["predictions"] == [] and t["total_predictions"] == 0  # no model
        assert t["meta"]["avel_role"] == "recheck" and t["meta"]["avel_not_for"] == [ann.id]
        assert t["data"]["avel_project"] == key_in(project.description)
        # nothing of the first pass: only ann's skipped, empty placeholder
        (placeholder,) = t["annotations"]
        assert placeholder["was_cancelled"] and placeholder["result"] == []
        assert placeholder["completed_by"] == ann.id and not placeholder["ground_truth"]
        assert admin._sdk.tasks.get(str(t["id"])).is_labeled is False
    # the first-pass tasks were left alone (not re-queued)
    first = admin.export_tasks(pushed.ls_project_id)
    assert all(len(t["annotations"]) == 1 for t in first)
    assert all(admin._sdk.tasks.get(str(t["id"])).is_labeled for t in first)

    # what the server serves: ann nothing (her own re-checks), bob exactly the drawn clips,
    # without predictions or anybody's annotation
    assert ann.next_task(rpid) is None
    task = bob.next_task(rpid)
    assert task is not None and task["data"]["clip_id"] in drawn
    assert not task.get("predictions") and not [
        a for a in task.get("annotations", []) if not a.get("was_cancelled")
    ]
    served = _label_stream(bob, rpid, {drawn[1]: OTHER})
    assert sorted(served) == drawn
    assert cid.next_task(rpid) is None  # each re-check is done once
    assert ann.next_task(rpid) is None

    # idempotent: again, and after the store lost its record of the re-check tasks (a run
    # stopped between import and record), no re-check task is created twice
    assert qc.qc_sample(any_store, ls_any, fraction=0.5, seed=2).recheck_tasks_created == 0
    pulled = annotate.pull(any_store, ls_any)
    assert (pulled.new, pulled.placeholders, pulled.recheck_ls_project_id) == (2, 2, rpid)
    report = qc.qc_report(any_store)
    assert (report.drawn, report.rechecked, report.pending) == (2, 2, 0)
    assert report.same_annotator == []
    (dis,) = report.disagreements
    assert (dis.clip_id, dis.status, dis.differing_second_names) == (drawn[1], "open", ["6-7s"])
    assert (dis.first_annotator, dis.second_annotator) == (ann.email, bob.email)
    assert dis.recheck_task_id == exported[drawn[1]]["id"]
    with open_store(ls_any) as opened, opened.session() as s:
        rounds = sorted(
            (r.annotator, r.round, r.was_cancelled) for r in s.scalars(select(Annotation))
        )
        n_projects = s.scalar(select(func.count()).select_from(LsProject))
    assert rounds == [(ann.email, 1, False)] * 4 + [(bob.email, 2, False)] * 2
    assert n_projects == 2
    cur = {c.clip_id: c for c in curated_labels(any_store)}
    assert cur[drawn[0]].provenance == "agreement" and drawn[1] not in cur
    assert sum(c.provenance == "first_pass" for c in cur.values()) == 2

    # third pass: served to cid only, in the re-check project; cid agrees with ann
    third = qc.adjudicate(any_store, ls_any, drawn[1], third_pass=True, by="lead")
    assert third.ls_task_id == exported[drawn[1]]["id"]
    waiting = {d.clip_id: d for d in qc.qc_report(any_store).disagreements}[drawn[1]]
    assert waiting.status == "third_pass" and "neither of the first two" in waiting.next_step
    assert ann.next_task(rpid) is None and bob.next_task(rpid) is None
    assert _label_stream(cid, rpid, {}) == [drawn[1]]
    annotate.pull(any_store, ls_any)
    cur = {c.clip_id: c for c in curated_labels(any_store)}
    assert (cur[drawn[1]].provenance, cur[drawn[1]].segments) == ("adjudication", FIRST)
    resolved = {d.clip_id: d for d in qc.qc_report(any_store).disagreements}[drawn[1]]
    assert resolved.status == "resolved" and resolved.next_step == "none: curated"
    assert len(cur) == 4

    # a store that lost its re-check task rows finds them again by clip id
    with open_store(ls_any) as opened, opened.session() as s:
        rc = s.scalars(select(LsProject).where(LsProject.title == "avel (re-check)")).one()
        s.execute(delete(LsTask).where(LsTask.project_id == rc.id))
        s.execute(delete(QcDraw))  # and its draws: the same draw is made again
    again = qc.qc_sample(any_store, ls_any, fraction=0.5, seed=2)
    assert again.drawn == 2 and again.recheck_tasks_created == 0
    assert sorted(c for _t, c in admin.task_clip_ids(rpid)) == drawn

    # control: it is the placeholder that keeps ann out. Reopened and without it, the same
    # task is served to her
    task_id = exported[drawn[0]]["id"]
    admin.update_task(task_id, overlap=2, is_labeled=False)
    assert ann.next_task(rpid) is None
    admin.delete_annotation(exported[drawn[0]]["annotations"][0]["id"])
    reopened = ann.next_task(rpid)
    assert reopened is not None and reopened["id"] == task_id


def test_recheck_title_never_collides_with_a_plain_project():
    assert recheck.is_recheck_title(recheck.recheck_title("avel"))
    assert not recheck.is_recheck_title("avel") and not recheck.is_recheck_title("avel-recheck")

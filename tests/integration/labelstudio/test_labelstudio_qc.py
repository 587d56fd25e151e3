"""The whole loop on a real server: push with predictions, two annotators, pull, 60 % draw,
re-check with deliberate disagreements, report, adjudication, curated labels."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from avel_annotate.config import Settings
from avel_annotate.domain.ls_results import labels_to_result
from avel_annotate.labelstudio.client import LsClient
from avel_annotate.services import annotate, qc
from avel_annotate.services.annotate import PushOptions
from avel_annotate.services.clips import clip_stats
from avel_annotate.services.curation import curated_labels
from avel_annotate.services.store import open_store
from avel_annotate.store.database import Store
from avel_annotate.store.tables import Annotation, Category, Clip

from .conftest import FIRST, TOKEN, add_clips, add_model

pytestmark = pytest.mark.labelstudio

OFF_BY_ONE = "1111110000"


def _tasks_by_clip(client: LsClient, project_id: int) -> dict[str, dict[str, Any]]:
    return {t["data"]["clip_id"]: t for t in client.export_tasks(project_id)}


def _category(settings: Settings, clip_id: str) -> str:
    with open_store(settings) as opened, opened.session() as s:
        return s.scalar(
            select(Category.name)
            .join(Clip, Clip.category_id == Category.id)
            .where(Clip.clip_id == clip_id)
        )


def test_two_annotators_recheck_report_adjudicate_curate(ls_settings: Settings, store: Store):
    ids = add_clips(ls_settings, 10, ["dog", "cat"])
    add_model(ls_settings, ids)
    pushed = annotate.push(
        store, ls_settings, PushOptions(model="m1", order="uncertainty", batch_size=4)
    )
    assert pushed.created == 10 and pushed.with_predictions == 10
    client = LsClient(ls_settings.ls_url, TOKEN)
    pid = pushed.ls_project_id
    tasks = _tasks_by_clip(client, pid)
    assert all(t["total_predictions"] == 1 for t in tasks.values())
    # least sure first: the clip with the lowest score got the first task id
    assert min(tasks.values(), key=lambda t: t["id"])["data"]["clip_id"] == ids[-1]

    admin, admin_email = client.whoami()
    bob = client.create_user("bob@avel.local")
    cid = client.create_user("cid@avel.local")
    for clip in ids:  # first pass by the admin
        client.create_annotation(
            tasks[clip]["id"],
            labels_to_result(FIRST, _category(ls_settings, clip)),
            completed_by=admin,
            lead_time=3.0,
        )
    first = annotate.pull(store, ls_settings)
    assert first.new == 10 and first.curated.added == 10

    sample = qc.qc_sample(store, ls_settings, fraction=0.6, seed=1)
    assert sample.drawn == 6 and sample.drawn_by_category == {"cat": 3, "dog": 3}
    assert qc.qc_sample(store, ls_settings, fraction=0.6, seed=1).candidates == 0  # nothing new
    tasks = _tasks_by_clip(client, pid)
    with open_store(ls_settings) as opened, opened.session() as s:
        from avel_annotate.store.tables import LsTask, QcDraw

        drawn = sorted(
            s.scalars(
                select(Clip.clip_id)
                .join(QcDraw, QcDraw.clip_id == Clip.id)
                .where(QcDraw.selected.is_(True))
            )
        )
        assert len(drawn) == 6
        assert len(set(s.scalars(select(LsTask.id)))) == 16  # 10 first-pass, 6 re-check tasks
    # the first-pass tasks stay as they were; the drawn clips got tasks of their own in the
    # re-check project, without the model's predictions and without the first pass
    for clip in drawn:
        task = client._sdk.tasks.get(str(tasks[clip]["id"]))
        assert task.overlap == 1 and task.is_labeled is True
    rpid = sample.recheck_ls_project_id
    assert rpid is not None and rpid != pid
    rechecks = _tasks_by_clip(client, rpid)
    assert sorted(rechecks) == drawn
    for clip in drawn:
        task = client._sdk.tasks.get(str(rechecks[clip]["id"]))
        assert task.overlap == 1 and task.is_labeled is False
        assert rechecks[clip]["total_predictions"] == 0
        assert [a["completed_by"] for a in rechecks[clip]["annotations"]] == [admin]
        assert all(a["was_cancelled"] for a in rechecks[clip]["annotations"])

    # re-check by bob: four agree, one differs in one second, one in the category;
    # on drawn[0] the admin first re-checks their own work (flagged, not counted): the stream
    # never serves it to them, but the API (or the data manager) lets them open it
    client.create_annotation(
        rechecks[drawn[0]]["id"],
        labels_to_result(FIRST, _category(ls_settings, drawn[0])),
        completed_by=admin,
    )
    answers = {}
    for i, clip in enumerate(drawn):
        cat = _category(ls_settings, clip)
        segs, bcat = FIRST, cat
        if i == 4:
            segs = OFF_BY_ONE
        if i == 5:
            bcat = "dog" if cat == "cat" else "cat"
        answers[clip] = client.create_annotation(
            rechecks[clip]["id"], labels_to_result(segs, bcat), completed_by=bob
        )
    pulled = annotate.pull(store, ls_settings)
    assert pulled.new == 7 and pulled.placeholders == 6  # the placeholders are never stored

    report = qc.qc_report(store)
    assert report.drawn == 6 and report.rechecked == 6 and report.pending == 0
    assert len(report.same_annotator) == 1 and drawn[0] in report.same_annotator[0]
    assert "fix: delete annotation" in report.same_annotator[0]  # every state has a next step
    # hand computation: 60 second-pairs, 59 agree; rater a 30 ones, rater b 31 ones
    p_o = 59 / 60
    p_e = (30 * 31 + 30 * 29) / 3600
    assert report.overall.percent_agreement == pytest.approx(100 * p_o)
    assert report.overall.kappa == pytest.approx((p_o - p_e) / (1 - p_e))
    assert report.overall.category_agreement == pytest.approx(100 * 5 / 6)
    assert set(report.per_annotator) == {admin_email, "bob@avel.local"}
    assert report.per_annotator["bob@avel.local"].n_pairs == 6
    dis = {d.clip_id: d for d in report.disagreements}
    assert set(dis) == {drawn[4], drawn[5]}
    assert dis[drawn[4]].differing_seconds == [5] and dis[drawn[4]].status == "open"
    assert all(d.first_annotator != d.second_annotator for d in report.disagreements)

    # adjudicate: accept bob on drawn[4]; a third pass on drawn[5], where cid sides with the admin
    acc = qc.adjudicate(store, ls_settings, drawn[4], accept=answers[drawn[4]], by="lead")
    assert acc.curated.added == 1
    qc.adjudicate(store, ls_settings, drawn[5], third_pass=True, by="lead")
    third = client._sdk.tasks.get(str(rechecks[drawn[5]]["id"]))  # in the re-check project
    assert third.overlap == 2 and third.is_labeled is False
    assert client._sdk.tasks.get(str(tasks[drawn[5]]["id"])).overlap == 1
    gt = [a for a in _tasks_by_clip(client, rpid)[drawn[4]]["annotations"] if a["ground_truth"]]
    assert [a["id"] for a in gt] == [answers[drawn[4]]]
    client.create_annotation(
        rechecks[drawn[5]]["id"],
        labels_to_result(FIRST, _category(ls_settings, drawn[5])),
        completed_by=cid,
    )
    annotate.pull(store, ls_settings)

    curated = {c.clip_id: c for c in curated_labels(store, "train")}
    assert len(curated) == 10
    prov = {c: curated[c].provenance for c in curated}
    assert [prov[c] for c in drawn] == ["agreement"] * 4 + ["adjudication"] * 2
    assert curated[drawn[4]].segments == OFF_BY_ONE
    assert sum(p == "first_pass" for p in prov.values()) == 4
    assert clip_stats(store).curated_by_split == {"train": 10}
    model = qc.qc_report(store).model_vs_human["m1"]
    assert model.n_pairs == 10
    with open_store(ls_settings) as opened, opened.session() as s:
        rounds = sorted(s.scalars(select(Annotation.round)))
    # cid's third pass, bob after admin; the re-check project's annotations are round 2 on
    assert rounds.count(1) == 10 and rounds.count(3) == 2 and rounds.count(2) == 6

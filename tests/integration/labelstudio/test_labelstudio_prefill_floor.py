"""`push --prefill-min-score` on a real server: clips whose prediction scores under the floor get
a task without it, the store records them as not pre-filled, and the acceptance figures of `qc
report` count only the tasks that did carry a prediction."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from avel_annotate.config import Settings
from avel_annotate.domain.ls_results import labels_to_result
from avel_annotate.labelstudio.client import LsClient
from avel_annotate.services import annotate, qc
from avel_annotate.services.annotate import PushOptions
from avel_annotate.store.database import Store
from avel_annotate.store.tables import Category, Clip, LsTask

from .conftest import FIRST, TOKEN, add_clips, add_model

pytestmark = pytest.mark.labelstudio


def test_predictions_under_the_floor_are_not_prefilled(ls_settings: Settings, store: Store):
    ids = add_clips(ls_settings, 10, ["dog", "cat"])
    add_model(ls_settings, ids)  # scores 0.95, 0.90, ... 0.50 down the list
    pushed = annotate.push(
        store, ls_settings, PushOptions(model="m1", order="balanced", prefill_min_score=0.72)
    )
    assert (pushed.created, pushed.with_predictions, pushed.withheld) == (10, 5, 5)
    client = LsClient(ls_settings.ls_url, TOKEN)
    tasks = {t["data"]["clip_id"]: t for t in client.export_tasks(pushed.ls_project_id)}
    sure, unsure = ids[:5], ids[5:]  # 0.95-0.75 and 0.70-0.50
    assert [tasks[c]["total_predictions"] for c in ids] == [1] * 5 + [0] * 5
    with store.session() as s:
        recorded = dict(
            s.execute(
                select(Clip.clip_id, LsTask.model_version_id).join(
                    LsTask, LsTask.clip_id == Clip.id
                )
            ).all()
        )
        category = dict(
            s.execute(
                select(Clip.clip_id, Category.name).join(Category, Clip.category_id == Category.id)
            ).all()
        )
    assert all(recorded[c] is not None for c in sure)
    assert all(recorded[c] is None for c in unsure)

    admin, _email = client.whoami()
    for clip in sure:  # Ctrl+Enter on the pre-filled answer: the prediction, unchanged
        (prediction,) = client._sdk.predictions.list(task=tasks[clip]["id"])
        client.create_annotation(tasks[clip]["id"], prediction.result, completed_by=admin)
    for clip in unsure:  # labelled from an empty editor; on 6 and 8 it equals the prediction
        client.create_annotation(
            tasks[clip]["id"], labels_to_result(FIRST, category[clip]), completed_by=admin
        )
    assert annotate.pull(store, ls_settings).new == 10

    report = qc.qc_report(store)
    assert report.gold is not None
    (acceptance,) = report.gold.acceptance
    assert (acceptance.prefilled, acceptance.kept) == (5, 5)

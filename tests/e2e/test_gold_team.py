"""Issue 15 items 3-4 as a manager meets them: a scripted team of three on a real Label Studio
server, one of them careless (keeps every pre-filled prediction, right or wrong). Gold clips are
mixed into two first-pass pushes, unannounced; every annotation is posted through the real LS API
as its annotator; pull keeps gold answers apart; `qc report` flags exactly the careless one and
shows acceptance against the prediction's accuracy on gold; their other labels go to re-check
with `qc sample --annotator`; report.html, read in headless Chromium, shows the gold section.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from avel_annotate.cli.main import run
from avel_annotate.config import Settings
from avel_annotate.domain import gold as dg
from avel_annotate.domain.ls_results import labels_to_result
from avel_annotate.labelstudio.client import LsClient
from avel_annotate.services import annotate, gold, qc
from avel_annotate.services.annotate import PushOptions
from avel_annotate.services.curation import curated_labels
from avel_annotate.services.report import write_report
from avel_annotate.services.store import open_store
from avel_annotate.store.database import Store
from avel_annotate.store.tables import (
    Annotation,
    Clip,
    GoldAnswer,
    GoldTask,
    LsTask,
    ModelVersion,
    Prediction,
    QcDraw,
)
from tests.conftest import TOKEN
from tests.e2e.test_browser import browser  # noqa: F401 (the headless Chromium fixture)
from tests.integration.labelstudio.conftest import add_clips

pytestmark = [pytest.mark.labelstudio, pytest.mark.slow]

TRUTH = "1111100000"  # every clip's true seconds
WRONG = "0000011111"  # what the model predicts on two of the three gold clips


def _model(settings: Settings, wrong_on: set[str]) -> None:
    """Model m1 predicts the truth everywhere except on ``wrong_on``."""
    with open_store(settings) as opened, opened.session() as s:
        mv = ModelVersion(
            name="m1", source="trained", path="models/m1", config="{}", categories='["dog","cat"]'
        )
        s.add(mv)
        s.flush()
        s.execute(
            insert(Prediction),
            [
                {
                    "clip_id": c.id,
                    "model_version_id": mv.id,
                    "event_probs": json.dumps([0.5] * 10),
                    "category_probs": "[0.5, 0.5]",
                    "segments": WRONG if c.clip_id in wrong_on else TRUTH,
                    "category_id": c.category_id,
                    "score": 0.7,
                }
                for c in s.scalars(select(Clip))
            ],
        )


def test_gold_check_flags_the_careless_annotator(
    ls_settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    store: Store,
    browser: Any,  # noqa: F811
):
    ids = add_clips(ls_settings, 27, ["dog", "cat"])
    golds, ordinary = ids[:3], ids[3:]
    cats = {c: ("dog", "cat")[i % 2] for i, c in enumerate(ids)}
    # wrong on two gold clips, and on two clips that cid will get (pushed in list order)
    wrong_on = {*golds[:2], ordinary[2], ordinary[5]}
    _model(ls_settings, wrong_on=wrong_on)
    predicted = {c: WRONG if c in wrong_on else TRUTH for c in ids}
    expert = tmp_path / "expert.csv"
    expert.write_text(
        "clip_id,segments,category\n" + "".join(f"{c},{TRUTH},{cats[c]}\n" for c in golds)
    )
    data_dir = str(ls_settings.data_dir)
    assert run(["--data-dir", data_dir, "annotate", "gold", "add", str(expert)]) == 0

    # two pushes, over time: each mixes fresh copies of the gold clips among the new tasks
    first = annotate.push(
        store, ls_settings, PushOptions(model="m1", limit=12, gold_rate=0.25, seed=1)
    )
    second = annotate.push(
        store, ls_settings, PushOptions(model="m1", limit=12, gold_rate=0.5, seed=2)
    )
    assert (first.created, first.gold_copies, second.created, second.gold_copies) == (12, 3, 12, 6)
    assert (
        annotate.push(store, ls_settings, PushOptions(model="m1", gold_rate=0.5)).gold_copies == 0
    )  # no new work
    client = LsClient(ls_settings.ls_url, TOKEN)
    tasks = client.export_tasks(first.ls_project_id)
    assert len(tasks) == 33
    with open_store(ls_settings) as opened, opened.session() as s:
        gold_ids = set(s.scalars(select(GoldTask.ls_task_id)))
        assert s.scalar(select(func.count()).select_from(LsTask)) == 24  # each clip once
        gold_clip_ids = set(
            s.scalars(select(Clip.clip_id).join(GoldTask, GoldTask.clip_id == Clip.id))
        )
    assert len(gold_ids) == 9 and gold_clip_ids == set(golds)
    # unannounced: a gold copy carries the same fields as any task, and the model's prediction
    shapes = {
        (tuple(sorted(t["data"])), tuple(sorted(t.get("meta") or {})), len(t["predictions"]))
        for t in tasks
    }
    assert len(shapes) == 1
    assert not any("gold" in json.dumps([t["data"], t.get("meta")]).lower() for t in tasks)

    # the team: ann and bob label what they see; cid submits every prediction unchanged
    admin, ann = client.whoami()
    team = {ann: admin, "bob@avel.local": client.create_user("bob@avel.local")}
    team["cid@avel.local"] = client.create_user("cid@avel.local")
    names = list(team)
    gold_tasks = sorted((t for t in tasks if t["id"] in gold_ids), key=lambda t: t["id"])
    plain = sorted((t for t in tasks if t["id"] not in gold_ids), key=lambda t: t["id"])
    for i, task in enumerate(gold_tasks + plain):
        who = names[i % 3]
        clip = task["data"]["clip_id"]
        result = labels_to_result(TRUTH, cats[clip])
        if who == "bob@avel.local" and i == 1:  # bob slips on one second of one gold clip
            result = labels_to_result("1111110000", cats[clip])
        if who == "cid@avel.local":
            result = labels_to_result(predicted[clip], cats[clip])  # the pre-filled answer
        client.create_annotation(task["id"], result, completed_by=team[who], lead_time=2.0)

    pulled = annotate.pull(store, ls_settings)
    assert (pulled.new, pulled.gold_answers, pulled.unknown_tasks) == (24, 9, 0)
    again = annotate.pull(store, ls_settings)
    assert (again.new, again.gold_answers, again.updated) == (0, 0, 0)
    with open_store(ls_settings) as opened, opened.session() as s:
        assert s.scalar(select(func.count()).select_from(GoldAnswer)) == 9
        assert s.scalar(select(func.count()).select_from(Annotation)) == 24
    curated = {c.clip_id: c for c in curated_labels(store)}
    assert len(curated) == 27
    assert {curated[c].provenance for c in golds} == {"gold"}
    assert {curated[c].segments for c in golds} == {TRUTH}  # cid's answers changed nothing
    assert {curated[c].provenance for c in ordinary} == {"first_pass"}

    report = qc.qc_report(store)
    assert report.gold is not None and report.gold.flagged == ["cid@avel.local"]
    scores = {s.annotator: s for s in report.gold.per_annotator}
    assert {w: s.status for w, s in scores.items()} == {
        ann: "ok",
        "bob@avel.local": "ok",
        "cid@avel.local": "flagged",
    }
    assert [s.answers for s in scores.values()] == [3, 3, 3]
    assert scores["bob@avel.local"].seconds_right == 29
    assert scores["cid@avel.local"].category_pct == 100.0  # the category was right; seconds not
    acc = {a.annotator: a for a in report.gold.acceptance}
    cid = acc["cid@avel.local"]
    assert (cid.prefilled, cid.kept, cid.kept_pct) == (11, 11, 100.0)
    wrong_copies = sum(
        1 for i, t in enumerate(gold_tasks) if i % 3 == 2 and t["data"]["clip_id"] in golds[:2]
    )
    assert cid.on_gold.tasks == 3 and cid.on_gold.kept_when_wrong == wrong_copies
    assert acc[ann].on_gold.kept_when_wrong == 0

    # the manager's view, in text and JSON
    capsys.readouterr()
    assert run(["--data-dir", data_dir, "annotate", "qc", "report"]) == 0
    text = capsys.readouterr().out
    flagged = [line for line in text.splitlines() if "FLAGGED" in line]
    assert len(flagged) == 1 and flagged[0].startswith("cid@avel.local")
    assert "next: re-check the other labels of cid@avel.local" in text
    assert run(["--data-dir", data_dir, "annotate", "qc", "report", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["gold"]["flagged"] == ["cid@avel.local"]

    # their other labels go to the re-check; nobody else's, and no gold copy
    drawn = qc.qc_sample(store, ls_settings, fraction=1.0, annotators=["cid@avel.local"])
    assert drawn.candidates == drawn.drawn == 8
    with open_store(ls_settings) as opened, opened.session() as s:
        drawn_by = set(
            s.scalars(
                select(Annotation.annotator)
                .join(QcDraw, QcDraw.task_id == Annotation.task_id)
                .where(QcDraw.selected.is_(True))
            )
        )
        drawn_tasks = set(
            s.scalars(select(LsTask.ls_task_id).join(QcDraw, QcDraw.task_id == LsTask.id))
        )
    assert drawn_by == {"cid@avel.local"} and not drawn_tasks & gold_ids
    # they went to the re-check project: one task per drawn clip, no gold copy, no prediction
    drawn_clips = {t["data"]["clip_id"] for t in plain if t["id"] in drawn_tasks}
    assert drawn.recheck_tasks_created == 8 and drawn.recheck_ls_project_id is not None
    recheck_tasks = client.export_tasks(drawn.recheck_ls_project_id)
    assert sorted(t["data"]["clip_id"] for t in recheck_tasks) == sorted(drawn_clips)
    assert not any(t.get("predictions") for t in recheck_tasks)

    # bob re-checks them: six agree with cid, two do not (cid kept a wrong prediction there);
    # the lead accepts bob's. Acceptance on re-checked clips now has its truth.
    rechecks = {}
    for task in recheck_tasks:
        clip = task["data"]["clip_id"]
        rechecks[clip] = client.create_annotation(
            task["id"], labels_to_result(TRUTH, cats[clip]), completed_by=team["bob@avel.local"]
        )
    assert annotate.pull(store, ls_settings).new == 8
    assert {d.clip_id for d in qc.qc_report(store).disagreements} == {
        ordinary[2],
        ordinary[5],
    }
    for clip in (ordinary[2], ordinary[5]):
        qc.adjudicate(store, ls_settings, clip, accept=rechecks[clip], by="lead")
    after = qc.qc_report(store)
    assert after.gold is not None
    cid_after = {a.annotator: a for a in after.gold.acceptance}["cid@avel.local"]
    assert cid_after.on_rechecked == dg.TruthFigures(8, 6, 8, 2, 75.0, 100.0)
    assert cid_after.on_gold == cid.on_gold

    # report.html as the manager reads it, in a real headless browser
    from selenium.webdriver.common.by import By

    out = tmp_path / "report.html"
    write_report(store, ls_settings, out)
    browser.get(out.as_uri())
    headings = [h.text for h in browser.find_elements(By.TAG_NAME, "h2")]
    assert "Accuracy on gold clips, per annotator (% right, with counts)" in headings
    assert "Acceptance of pre-filled predictions, per annotator" in headings
    gold_table = "//h2[starts-with(., 'Accuracy on gold')]/following-sibling::table[1]//tr[td]"
    cells = [
        [c.text for c in r.find_elements(By.TAG_NAME, "td")]
        for r in browser.find_elements(By.XPATH, gold_table)
    ]
    rows = {r[0]: r for r in cells}
    assert set(rows) == set(names)
    assert rows["cid@avel.local"][-1].startswith("FLAGGED")
    assert rows["bob@avel.local"][2] == "96.7 (29/30)" and rows[ann][-1] == "ok"
    note = browser.find_element(By.XPATH, "//p[contains(., 'gold clip(s)')]").text
    assert "Flagged: cid@avel.local." in note and note.startswith("3 gold clip(s), 9 answer(s)")
    assert gold.list_gold(store)[0].task_copies == 3
    accept_table = (
        "//h2[starts-with(., 'Acceptance of pre-filled')]/following-sibling::table[1]//tr[td]"
    )
    accepted = {
        r[0]: r
        for r in (
            [c.text for c in row.find_elements(By.TAG_NAME, "td")]
            for row in browser.find_elements(By.XPATH, accept_table)
        )
    }
    assert accepted["cid@avel.local"][1:] == [
        "11",
        "100.0 (11/11)",
        f"{round(100 * (3 - wrong_copies) / 3, 1)} / 100.0 / {wrong_copies} (of 3 tasks)",
        "75.0 / 100.0 / 2 (of 8 tasks)",
    ]

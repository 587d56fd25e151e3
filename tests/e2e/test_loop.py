"""The whole loop against real services: a local Range server + yt-dlp + ffmpeg, PyAV, a real
Label Studio with two scripted annotators, the store, training and prediction twice, exports.

Labels are known by construction (`avel demo`'s generated sources: the event seconds are where
the coloured box and the tone are), so the scripted annotators answer the truth, except where
the test plants a disagreement.
"""

from __future__ import annotations

import json
import shutil
import urllib.parse
from pathlib import Path
from typing import Any

import h5py
import httpx
import pytest
from sqlalchemy import delete

from avel_annotate.cli.main import run
from avel_annotate.config import Settings, load_settings, write_config_values
from avel_annotate.domain.ls_results import labels_to_result
from avel_annotate.labelstudio.client import LsClient
from avel_annotate.labelstudio.server import ServerHandle, start_server
from avel_annotate.media.http_server import RangeServer
from avel_annotate.services.demo import CATEGORIES, demo_clips, write_sources
from avel_annotate.services.store import open_store
from avel_annotate.store.tables import Prediction
from tests.conftest import ADMIN, PASSWORD, TOKEN

pytestmark = [pytest.mark.labelstudio, pytest.mark.slow]


def _avel(s: Settings, *args: str) -> list[str]:
    return ["--data-dir", str(s.data_dir), "--no-progress", *args]


def _json(capsys: pytest.CaptureFixture, s: Settings, *args: str) -> Any:
    capsys.readouterr()
    code = run(_avel(s, *args, "--json"))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def _tasks(client: LsClient, project_id: int) -> dict[str, dict[str, Any]]:
    return {t["data"]["clip_id"]: t for t in client.export_tasks(project_id)}


def test_fetch_label_recheck_curate_train_predict_export(
    ls_settings: Settings, ls_server: ServerHandle, tmp_path: Path, capsys: pytest.CaptureFixture
):
    s = ls_settings
    clips = demo_clips(16)
    truth = {f"{c.ytid}_{c.start_s:06d}": (c.segments, CATEGORIES[c.category]) for c in clips}
    sources = tmp_path / "sources"
    write_sources(sources, clips)
    listing = tmp_path / "vggsound.csv"  # a VGGSound-format list: no splits of ours, no seconds
    listing.write_text(
        "".join(f"{c.ytid},{c.start_s},{CATEGORIES[c.category]},train\n" for c in clips)
    )

    # fetch through yt-dlp from the local server; splits assigned by the toolkit
    with RangeServer(sources) as server:
        template = server.base_url + "/{ytid}.mp4"
        fetched = _json(capsys, s, "fetch", "--csv", str(listing), "--url-template", template)
    assert fetched["fetched"] == 16, fetched
    split = _json(
        capsys, s, "split", "assign", "--ratios", "50/25/25", "--seed", "3", "--include-list-splits"
    )
    counts = split["counts"]  # stratified by category: 6/5/5 clips give 9/4/3
    assert sum(counts.values()) == 16 and min(counts.values()) >= 3

    feats = _json(
        capsys,
        s,
        "features",
        "extract",
        "--visual",
        "resnet18",
        "--dtype",
        "bfloat16",
        "--frames-per-second",
        "4",
        "--allow-random-weights",
    )
    assert feats["done"] == 16 and feats["random_weights"] is True

    # round 1: push 10 clips without a model, label them, re-check 60 %
    pushed = _json(capsys, s, "annotate", "push", "--limit", "10")
    assert pushed["created"] == 10
    client = LsClient(s.ls_url, s.ls_api_key or "")
    admin, _ = client.whoami()
    bob = client.create_user("bob@avel.local")
    project = pushed["ls_project_id"]
    tasks = _tasks(client, project)
    for clip_id, task in tasks.items():
        segments, category = truth[clip_id]
        client.create_annotation(
            task["id"], labels_to_result(segments, category), completed_by=admin, lead_time=4.0
        )
    assert _json(capsys, s, "annotate", "pull")["new"] == 10
    drawn = _json(capsys, s, "annotate", "qc", "sample", "--fraction", "0.6", "--seed", "1")
    assert drawn["drawn"] == 6
    tasks = _tasks(client, project)
    assert all(client._sdk.tasks.get(str(t["id"])).is_labeled for t in tasks.values())
    rechecks = _tasks(client, drawn["recheck_ls_project_id"])  # the separate re-check project
    requeued = sorted(rechecks)
    assert len(requeued) == 6 and drawn["recheck_tasks_created"] == 6
    assert all(t["total_predictions"] == 0 for t in rechecks.values())
    planted = requeued[0]  # bob flips one second of this clip
    for clip_id in requeued:
        segments, category = truth[clip_id]
        if clip_id == planted:
            segments = ("0" if segments[0] == "1" else "1") + segments[1:]
        client.create_annotation(
            rechecks[clip_id]["id"], labels_to_result(segments, category), completed_by=bob
        )
    _json(capsys, s, "annotate", "pull")
    report = _json(capsys, s, "annotate", "qc", "report")
    assert report["rechecked"] == 6
    assert [d["clip_id"] for d in report["disagreements"]] == [planted]
    assert report["overall"]["percent_agreement"] == pytest.approx(100 * 59 / 60)
    first = next(a for a in tasks[planted]["annotations"] if a["completed_by"] == admin)
    capsys.readouterr()
    # ids may start with '-': they go after `--`, as on any command line
    args = ["annotate", "adjudicate", "--accept", str(first["id"]), "--by", "lead", "--", planted]
    assert run(_avel(s, *args)) == 0
    stats = _json(capsys, s, "clips", "stats")
    assert sum(stats["curated_by_split"].values()) == 10

    # train v1 on curated labels, pre-label everything, push the rest with predictions
    v1 = _json(
        capsys,
        s,
        "train",
        "--epochs",
        "3",
        "--stage2-epochs",
        "1",
        "--batch-size",
        "4",
        "--name",
        "v1",
        "--allow-random-features",
    )
    assert v1["n_train"] + v1["n_val"] <= 10 and v1["previous"] is None
    assert _json(capsys, s, "predict", "--allow-random-features")["predicted"] == 16
    second = _json(capsys, s, "annotate", "push", "--model", "v1", "--order", "uncertainty")
    assert (second["created"], second["with_predictions"]) == (6, 6)
    tasks = _tasks(client, project)
    for clip_id, task in tasks.items():
        if task["annotations"]:
            continue
        assert task["total_predictions"] == 1
        segments, category = truth[clip_id]
        client.create_annotation(
            task["id"], labels_to_result(segments, category), completed_by=admin
        )
    assert _json(capsys, s, "annotate", "pull")["new"] == 6
    curated = _json(capsys, s, "clips", "stats")["curated_by_split"]
    assert sum(curated.values()) == 16
    report = _json(capsys, s, "annotate", "qc", "report")
    assert report["model_vs_human"]["v1"]["n_pairs"] >= 6

    # v2 on all curated labels; predict again with it; export; report
    v2 = _json(
        capsys,
        s,
        "train",
        "--epochs",
        "3",
        "--stage2-epochs",
        "1",
        "--batch-size",
        "4",
        "--name",
        "v2",
        "--allow-random-features",
    )
    assert (v2["previous"], v2["n_train"], v2["n_val"]) == ("v1", counts["train"], counts["val"])
    assert (
        _json(capsys, s, "predict", "--model", "v2", "--allow-random-features")["predicted"] == 16
    )
    versions = _json(capsys, s, "models", "list")
    assert [(v["name"], v["is_default"]) for v in versions] == [("v1", False), ("v2", True)]

    out = tmp_path / "export"
    exported = _json(capsys, s, "export", str(out), "--format", "ave-h5", "--allow-random-features")
    assert exported["clips"] == 16
    rows = [line.split(",") for line in (out / "clips.csv").read_text().splitlines()[1:]]
    with h5py.File(out / "labels.h5") as fh:
        labels = fh["avadataset"][()]
    names = (out / "categories.txt").read_text().splitlines()
    for row, clip_id, _split, segments in rows:
        want_segments, want_category = truth[clip_id]
        if clip_id == planted:
            assert segments == want_segments  # the adjudicated (admin's) answer
        assert segments == want_segments
        i = int(row)
        for t in range(10):
            cls = int(labels[i, t].argmax())
            assert (cls == len(names)) == (want_segments[t] == "0")
            if want_segments[t] == "1":
                assert names[cls] == want_category
    html = tmp_path / "report.html"
    assert run(_avel(s, "report", "--out", str(html))) == 0
    assert "Confusion matrix" in html.read_text()

    # issue 10 item 3: the data dir copied elsewhere (the original moved out of reach) still
    # predicts, plays its videos and pushes/pulls without a duplicate. Before, predict said
    # "weights.pt is missing" and every video failed (storage on the old absolute path).
    ls_server.stop()
    copy = tmp_path / "copied" / "avel-data"
    shutil.copytree(s.data_dir, copy)
    s.data_dir.rename(tmp_path / "moved-away")
    moved = start_server(
        ls_server.ls_data_dir, copy, token=TOKEN, username=ADMIN, password=PASSWORD
    )
    try:
        c = load_settings(data_dir=copy, overrides={"progress": False}, environ={})
        write_config_values(c.config_path, {"ls_url": moved.url, "ls_api_key": TOKEN})
        # predict skips clips it has predicted: redo all
        with open_store(c) as opened, opened.session() as session:
            session.execute(delete(Prediction))
        predicted = _json(capsys, c, "predict", "--model", "v2", "--allow-random-features")
        assert predicted["predicted"] == 16
        pulled = _json(capsys, c, "annotate", "pull")
        assert (pulled["new"], pulled["updated"], pulled["deleted"]) == (0, 0, 0)
        client = LsClient(moved.url, TOKEN)
        task = next(iter(_tasks(client, pulled["ls_project_id"]).values()))
        auth = {"Authorization": f"Token {TOKEN}"}
        video = httpx.get(moved.url + task["data"]["video"], headers=auth)
        media = copy / urllib.parse.unquote(task["data"]["video"].split("?d=", 1)[1])
        assert video.status_code == 200 and video.content == media.read_bytes()
        pushed = _json(capsys, c, "annotate", "push", "--model", "v2")
        assert pushed["created"] == 0 and pushed["duplicates_on_server"] == []
        assert len(client.task_clip_ids(pulled["ls_project_id"])) == 16
    finally:
        moved.stop()

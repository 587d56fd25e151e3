"""A push interrupted by the server dying half way, then re-run: every task once."""

from __future__ import annotations

from pathlib import Path

import pytest

from avel_annotate.config import Settings
from avel_annotate.errors import LabelStudioError
from avel_annotate.labelstudio import client as client_mod
from avel_annotate.labelstudio.server import start_server
from avel_annotate.services import annotate
from avel_annotate.services.annotate import PushOptions
from avel_annotate.store.database import Store

from .conftest import ADMIN, PASSWORD, TOKEN, add_clips, start_copy

pytestmark = pytest.mark.labelstudio


def test_push_killed_half_way_then_resumed_has_no_duplicates(
    ls_template: Path,
    tmp_path: Path,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    store: Store,
):
    handle = start_copy(ls_template, tmp_path / "ls", settings.data_dir)
    try:
        ls = settings.with_(ls_url=handle.url, ls_api_key=TOKEN)
        ids = add_clips(ls, 30, ["dog", "cat"])
        original = client_mod.LsClient.import_tasks
        calls = {"n": 0}

        def dying(self, project_id, tasks):
            calls["n"] += 1
            if calls["n"] == 3:
                original(self, project_id, tasks)  # the batch reaches the server ...
                handle.kill()  # ... which dies before the answer is used
            return original(self, project_id, tasks)

        monkeypatch.setattr(client_mod.LsClient, "import_tasks", dying)
        with pytest.raises(LabelStudioError, match=handle.url):
            annotate.push(store, ls, PushOptions(batch_size=5))
        monkeypatch.undo()

        restarted = start_server(
            handle.ls_data_dir,
            settings.data_dir,
            token=TOKEN,
            username=ADMIN,
            password=PASSWORD,
            port=handle.port,
        )
        handle = restarted
        assert restarted.url == ls.ls_url
        resumed = annotate.push(store, ls, PushOptions(batch_size=5))
        assert resumed.reconciled == 5 and resumed.created == 15
        assert resumed.already_pushed == 10 and not resumed.duplicates_on_server
        server = client_mod.LsClient(ls.ls_url, TOKEN).task_clip_ids(resumed.ls_project_id)
        assert sorted(c for _, c in server) == sorted(ids)
        assert annotate.push(store, ls).created == 0
    finally:
        handle.stop()

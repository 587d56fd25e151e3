"""Issue 10 item 6: an annotator in a real browser (headless Chromium driven by selenium) opens a
pushed task in the real Label Studio editor, the video plays, the ten boxes are toggled by their
hotkeys, a category is chosen, Submit; `annotate pull` stores exactly those labels.

Needs Debian's ``chromium`` and ``chromium-driver`` (scripts/setup.sh installs them) and
selenium (the dev extra); skipped without them.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from avel_annotate.config import Settings
from avel_annotate.domain.ls_results import labels_to_result
from avel_annotate.labelstudio.client import LsClient
from avel_annotate.labelstudio.server import ServerHandle
from avel_annotate.services import annotate, qc
from avel_annotate.services.annotate import PushOptions
from avel_annotate.services.curation import curated_labels
from avel_annotate.store.database import Store
from tests.conftest import ADMIN, PASSWORD, TOKEN
from tests.integration.labelstudio.conftest import add_clips

pytestmark = [pytest.mark.labelstudio, pytest.mark.slow]

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
CHROME_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver")
    if not CHROMIUM or not CHROMEDRIVER:
        pytest.skip("chromium / chromedriver not installed (scripts/setup.sh installs them)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in (*CHROME_ARGS, f"--user-data-dir={tmp_path / 'chrome-profile'}"):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


def _ten_second_clip(path: Path) -> None:
    """A real 10-s H.264/AAC mp4, as fetch writes them."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=10",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=10",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
         "-movflags", "+faststart", "-shortest", str(path)],
        check=True,
    )  # fmt: skip


def _until(what: str, fn: Any, timeout_s: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.3)


def test_annotator_labels_a_task_in_the_real_editor(
    ls_settings: Settings, ls_server: ServerHandle, browser: Any, store: Store
):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    (clip,) = add_clips(ls_settings, 1, ["dog", "cat"])
    _ten_second_clip(ls_settings.data_dir / f"clips/{clip[:2]}/{clip}.mp4")
    pushed = annotate.push(store, ls_settings)
    d, url = browser, ls_server.url

    d.get(f"{url}/user/login")
    _until("the login form", lambda: d.find_elements(By.NAME, "email"))
    d.find_element(By.NAME, "email").send_keys(ADMIN)
    d.find_element(By.NAME, "password").send_keys(PASSWORD)
    d.find_element(By.CSS_SELECTOR, "button[type=submit], input[type=submit]").click()
    _until("the login", lambda: "/user/login" not in d.current_url)

    d.get(f"{url}/projects/{pushed.ls_project_id}/data?labeling=1")  # the annotator's stream
    video = _until("the video", lambda: (d.find_elements(By.TAG_NAME, "video") or [None])[0])
    ready = _until(
        "video metadata",
        lambda: d.execute_script(
            "const v = arguments[0]; return v.readyState >= 1 ? [v.readyState, v.duration] : null",
            video,
        ),
    )
    assert ready[0] >= 1 and ready[1] == pytest.approx(10.0, abs=0.05)
    d.execute_script("arguments[0].muted = true; arguments[0].play();", video)
    _until("playback", lambda: d.execute_script("return arguments[0].currentTime > 0.2", video))
    d.execute_script("arguments[0].pause();", video)

    # every box on by its hotkey (1 ... 9 = 0-1s ... 8-9s, 0 = 9-10s), then three off again
    d.find_element(By.XPATH, "//*[normalize-space()='Event category']").click()  # page focus
    keys = ActionChains(d)
    for key in "1234567890" + "150":
        keys.send_keys(key).pause(0.15)
    keys.perform()
    d.find_element(By.XPATH, "//input[@name='dog']/ancestor::label").click()  # by mouse
    ticked = dict(
        d.execute_script(
            "return [...document.querySelectorAll('input[type=checkbox]')]"
            ".map(c => [c.name, c.checked])"
        )
    )
    assert [ticked[f"{t}-{t + 1}s"] for t in range(10)] == [c == "1" for c in "0111011110"]
    assert ticked["dog"] and not ticked["cat"]
    d.find_element(By.XPATH, "//button[normalize-space()='Submit']").click()

    client = LsClient(url, TOKEN)
    _until(
        "the annotation on the server",
        lambda: any(t["annotations"] for t in client.export_tasks(pushed.ls_project_id)),
    )
    pulled = annotate.pull(store, ls_settings)
    assert pulled.new == 1
    (curated,) = curated_labels(store)
    assert (curated.clip_id, curated.segments, curated.category) == (clip, "0111011110", "dog")


def _login(d: Any, url: str, email: str, password: str) -> None:
    from selenium.webdriver.common.by import By

    d.get(f"{url}/user/login")
    _until("the login form", lambda: d.find_elements(By.NAME, "email"))
    d.find_element(By.NAME, "email").send_keys(email)
    d.find_element(By.NAME, "password").send_keys(password)
    d.find_element(By.CSS_SELECTOR, "button[type=submit], input[type=submit]").click()
    _until("the login", lambda: "/user/login" not in d.current_url)


def _served(d: Any, url: str, project_id: int) -> str | None:
    """Open the project's Label Stream (what the editor serves this user): the clip the served
    task plays, or None when the editor says there is nothing left for them."""
    from selenium.webdriver.common.by import By

    d.get(f"{url}/projects/{project_id}/data?labeling=1")

    def settled() -> Any:
        if d.find_elements(By.TAG_NAME, "video"):
            return "video"
        text = d.find_element(By.TAG_NAME, "body").text.lower()
        return "none" if "no more tasks" in text else None

    if _until("the stream to serve a task or none", settled) == "none":
        return None
    video = d.find_element(By.TAG_NAME, "video")
    src = _until(
        "the video source", lambda: d.execute_script("return arguments[0].currentSrc", video)
    )
    name = urllib.parse.unquote(str(src)).rsplit("/", 1)[-1]
    return name.removesuffix(".mp4")


def _add_model(settings: Settings, segments: str) -> None:
    """A model version with one prediction per clip (what the first pass starts from)."""
    from sqlalchemy import insert, select

    from avel_annotate.services.store import open_store
    from avel_annotate.store.tables import Clip, ModelVersion, Prediction

    with open_store(settings) as opened, opened.session() as s:
        mv = ModelVersion(
            name="m1", source="trained", path="models/m1", config="{}", categories="[]"
        )
        s.add(mv)
        s.flush()
        rows = [
            {
                "clip_id": c.id,
                "model_version_id": mv.id,
                "event_probs": "[" + ", ".join(["0.9"] * 10) + "]",
                "category_probs": "[0.5, 0.5]",
                "segments": segments,
                "category_id": c.category_id,
                "score": 0.9,
            }
            for c in s.scalars(select(Clip))
        ]
        s.execute(insert(Prediction), rows)


def test_recheck_stream_serves_others_only_the_recheck_tasks(
    ls_settings: Settings, ls_server: ServerHandle, browser: Any, store: Store
):
    """Issue 10 item 6, second half: the first annotator (the admin, who labelled the first
    pass) is served none of their re-checks in the re-check project's stream; a second
    annotator, signed up through the invite link in the browser, is served exactly the
    re-check tasks, labels them in the editor, and the pull matches them back by clip id."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    ids = add_clips(ls_settings, 3, ["dog", "cat"])
    for clip in ids:
        _ten_second_clip(ls_settings.data_dir / f"clips/{clip[:2]}/{clip}.mp4")
    _add_model(ls_settings, "1" * 10)  # the first pass starts from the model; the re-check not
    pushed = annotate.push(store, ls_settings, PushOptions(model="m1"))
    assert pushed.with_predictions == 3
    client = LsClient(ls_server.url, TOKEN)
    admin, _ = client.whoami()
    for task_id, _clip in client.task_clip_ids(pushed.ls_project_id):
        client.create_annotation(task_id, labels_to_result("1100000000", "dog"), completed_by=admin)
    assert annotate.pull(store, ls_settings).new == 3
    sample = qc.qc_sample(store, ls_settings, fraction=0.67, seed=0)
    assert sample.drawn == 2 and sample.recheck_ls_project_id is not None
    rpid = sample.recheck_ls_project_id
    rechecks = {t: c for t, c in client.task_clip_ids(rpid)}
    assert len(rechecks) == 2
    d, url = browser, ls_server.url

    _login(d, url, ADMIN, PASSWORD)  # the first annotator of every clip
    assert _served(d, url, rpid) is None
    d.get(f"{url}/logout")
    _until("the logout", lambda: "/user/login" in d.current_url)

    d.get(client.invite_url())  # a second annotator joins as annotators do
    _until("the signup form", lambda: d.find_elements(By.NAME, "email"))
    d.find_element(By.NAME, "email").send_keys("bob@lab.example")
    d.find_element(By.NAME, "password").send_keys("re-check-" + TOKEN[:12])
    d.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _until("the signup", lambda: "/user/signup" not in d.current_url)

    served: list[str] = []
    while (clip := _served(d, url, rpid)) is not None:
        assert clip not in served, f"clip {clip} served twice"
        served.append(clip)
        # nothing to start from: no box and no category ticked (the model said all ten)
        _until("the boxes", lambda: d.find_elements(By.CSS_SELECTOR, "input[type=checkbox]"))
        ticked = d.execute_script(
            "return [...document.querySelectorAll('input[type=checkbox]')]"
            ".filter(c => c.checked).map(c => c.name)"
        )
        assert ticked == []
        d.find_element(By.XPATH, "//*[normalize-space()='Event category']").click()
        keys = ActionChains(d)
        for key in "123":
            keys.send_keys(key).pause(0.15)
        keys.perform()
        d.find_element(By.XPATH, "//input[@name='cat']/ancestor::label").click()
        d.find_element(By.XPATH, "//button[normalize-space()='Submit']").click()
        _until(
            "the re-check on the server",
            lambda: any(
                not a["was_cancelled"]
                for t in client.export_tasks(rpid)
                if t["data"]["clip_id"] == clip
                for a in t["annotations"]
            ),
        )
        assert len(served) <= 2, "served more than the re-check tasks"
    assert sorted(served) == sorted(rechecks.values())

    pulled = annotate.pull(store, ls_settings)
    assert (pulled.new, pulled.placeholders) == (2, 2)
    report = qc.qc_report(store)
    assert (report.rechecked, report.pending) == (2, 0)
    assert {p.clip_id for p in report.disagreements} == set(rechecks.values())
    assert {
        (p.second_annotator, p.second_segments, p.second_category) for p in report.disagreements
    } == {("bob@lab.example", "1110000000", "cat")}

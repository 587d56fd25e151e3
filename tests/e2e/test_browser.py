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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from avel_annotate.config import Settings
from avel_annotate.labelstudio.client import LsClient
from avel_annotate.labelstudio.server import ServerHandle
from avel_annotate.services import annotate
from avel_annotate.services.curation import curated_labels
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
    ls_settings: Settings, ls_server: ServerHandle, browser: Any
):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    (clip,) = add_clips(ls_settings, 1, ["dog", "cat"])
    _ten_second_clip(ls_settings.data_dir / f"clips/{clip[:2]}/{clip}.mp4")
    pushed = annotate.push(ls_settings)
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
    pulled = annotate.pull(ls_settings)
    assert pulled.new == 1
    (curated,) = curated_labels(ls_settings)
    assert (curated.clip_id, curated.segments, curated.category) == (clip, "0111011110", "dog")

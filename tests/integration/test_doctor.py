"""`avel doctor`: the preflight checks plus store, Label Studio, torch and weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avel_annotate.cli.main import run
from avel_annotate.config import Settings, load_settings
from avel_annotate.services.doctor import doctor


def _by_name(checks: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(c["name"]): c for c in checks}


def test_doctor_json_on_a_fresh_machine_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "not-yet"
    argv = ["--data-dir", str(data), "--no-progress", "--json"]
    code = run([*argv, "doctor"])
    out = json.loads(capsys.readouterr().out)
    checks = _by_name(out["checks"])
    assert set(checks) >= {
        "ffmpeg", "ffprobe", "JS runtime", "EJS scripts", "yt-dlp", "data dir", "free disk",
        "store", "Label Studio", "torch", "CUDA", "weights vgg19", "weights vggish",
    }  # fmt: skip
    assert checks["JS runtime"]["ok"] and "deno" in str(checks["JS runtime"]["detail"])
    assert checks["EJS scripts"]["ok"]
    assert checks["data dir"]["ok"] and checks["store"]["ok"]
    # nothing listens on this port: a failed check with its fix, and exit 1
    assert not checks["Label Studio"]["ok"] and "labelstudio serve" in str(
        checks["Label Studio"]["fix"]
    )
    assert code == 1 and out["ok"] is False
    assert not data.exists()  # doctor creates nothing


def test_doctor_masks_the_store_password_and_reports_unreachable(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        db_url="postgresql://user:s3cret@127.0.0.1:9/avel",
        overrides={"progress": False},
        environ={},
    )
    checks = {c.name: c for c in doctor(settings).checks}
    store = checks["store"]
    assert not store.ok and "s3cret" not in store.detail and "***" in store.detail


def test_doctor_schema_revision(settings: Settings) -> None:
    from avel_annotate.services.store import open_store

    open_store(settings).close()  # make the database
    checks = {c.name: c for c in doctor(settings).checks}
    assert checks["schema"].ok and "(head)" in checks["schema"].detail


@pytest.mark.labelstudio
def test_doctor_label_studio_token(ls_settings: Settings) -> None:
    checks = {c.name: c for c in doctor(ls_settings).checks}
    assert checks["Label Studio"].ok and checks["LS token"].ok
    bad = ls_settings.with_(ls_api_key="0" * 40)
    checks = {c.name: c for c in doctor(bad).checks}
    assert checks["Label Studio"].ok and not checks["LS token"].ok
    assert "refused the token" in checks["LS token"].detail

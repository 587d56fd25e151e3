"""Shared fixtures: a temporary data dir, SQLite, a real PostgreSQL, a real Label Studio.

PostgreSQL: set ``AVEL_TEST_PG_URL`` to a server URL whose user may create databases (the test
script does); each test that asks for it gets a fresh database, dropped afterwards. Without the
variable those tests are skipped, unless ``AVEL_REQUIRE_PG=1`` (CI), where they fail instead.

Label Studio: one template data dir is migrated per test session (~50 s); each test copies it and
starts its own server on a free port (a few seconds), with the toolkit's data dir as the
local-files root. Skipped when label-studio is not installed, unless ``AVEL_REQUIRE_LS=1`` (CI).
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from avel_annotate.config import Settings, load_settings, write_config_values
from avel_annotate.errors import LabelStudioError
from avel_annotate.labelstudio.server import (
    ServerHandle,
    copy_data_dir,
    find_label_studio,
    start_server,
)
from avel_annotate.services.store import Store, open_store

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "samples"


def _pg_server_url() -> str | None:
    url = os.environ.get("AVEL_TEST_PG_URL")
    if not url:
        if os.environ.get("AVEL_REQUIRE_PG"):
            pytest.fail("AVEL_REQUIRE_PG is set but AVEL_TEST_PG_URL is not")
        pytest.skip("no PostgreSQL server (set AVEL_TEST_PG_URL)")
    return url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL of a new, empty PostgreSQL database (as a user would paste it: no driver name)."""
    import psycopg

    server = _pg_server_url()
    assert server is not None
    name = f"avel_test_{uuid.uuid4().hex[:12]}"
    admin = server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin.rpartition("/")
    yield f"{base}/{name}"
    _drop_database(admin, name)


def _drop_database(admin: str, name: str) -> None:
    """Drop a test database. ``WITH (FORCE)`` may meet a backend of another role (an autovacuum
    worker that just started on the new database): that is a passing race, so try again, and
    at worst leave the empty test database behind rather than fail the test that used it."""
    import time
    import warnings

    import psycopg

    for attempt in range(10):
        try:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse) as e:
            last = e
            time.sleep(0.2 * (attempt + 1))
    warnings.warn(f"could not drop test database {name}: {last}", stacklevel=2)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "avel-data"
    path.mkdir()
    return path


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    """Settings on a fresh SQLite store in a temporary data dir, no progress bars."""
    return load_settings(data_dir=data_dir, overrides={"progress": False}, environ={})


@pytest.fixture(params=["sqlite", "postgres"])
def any_settings(request: pytest.FixtureRequest, data_dir: Path) -> Settings:
    """The same test on SQLite and on a real PostgreSQL database."""
    if request.param == "sqlite":
        return load_settings(data_dir=data_dir, overrides={"progress": False}, environ={})
    url = request.getfixturevalue("pg_url")
    return load_settings(data_dir=data_dir, db_url=url, overrides={"progress": False}, environ={})


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    """The ``settings`` fixture's database, opened as a command opens it."""
    with open_store(settings) as opened:
        yield opened


@pytest.fixture
def any_store(any_settings: Settings) -> Iterator[Store]:
    """``store`` on SQLite and on a real PostgreSQL database."""
    with open_store(any_settings) as opened:
        yield opened


# Skips that say something true about the machine, not about a missing part of the setup.
MACHINE_SKIPS = (
    "root writes into read-only folders",
    "needs a machine without CUDA",
    "cannot mount a tmpfs",
    "no node on PATH",
)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """With ``AVEL_NO_SKIPS=1`` (CI), a test skipped for a missing part (``../shared``, ffmpeg,
    PostgreSQL, Label Studio, chromium) fails instead of passing silently."""
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and os.environ.get("AVEL_NO_SKIPS")):
        return
    reason = (
        str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
    )
    if not any(fact in reason for fact in MACHINE_SKIPS):
        report.outcome = "failed"
        report.longrepr = f"skipped under AVEL_NO_SKIPS=1 (set up what it needs): {reason}"


@pytest.fixture
def samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip(f"real samples not present at {SAMPLES}")
    return SAMPLES


TOKEN = secrets.token_hex(20)
ADMIN = "admin@avel.local"
PASSWORD = secrets.token_urlsafe(12)


@pytest.fixture(scope="session")
def ls_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        find_label_studio()
    except LabelStudioError:
        if os.environ.get("AVEL_REQUIRE_LS"):
            pytest.fail("AVEL_REQUIRE_LS is set but label-studio is not installed")
        pytest.skip("label-studio is not installed (pip install 'avel-annotate[server]')")
    template = tmp_path_factory.mktemp("ls-template")
    root = tmp_path_factory.mktemp("ls-template-root")
    handle = start_server(template, root, token=TOKEN, username=ADMIN, password=PASSWORD)
    handle.stop()
    return template


def start_copy(ls_template: Path, dest: Path, document_root: Path) -> ServerHandle:
    if not dest.exists():
        copy_data_dir(ls_template, dest)
    return start_server(dest, document_root, token=TOKEN, username=ADMIN, password=PASSWORD)


@pytest.fixture
def ls_server(ls_template: Path, tmp_path: Path, data_dir: Path) -> Iterator[ServerHandle]:
    handle = start_copy(ls_template, tmp_path / "ls", data_dir)
    yield handle
    handle.stop()


@pytest.fixture
def ls_settings(settings: Settings, ls_server: ServerHandle) -> Settings:
    """Settings that reach the test's server; also saved to the data dir's config file, as
    `avel labelstudio serve` does, so `avel` commands run in the test find it too."""
    write_config_values(settings.config_path, {"ls_url": ls_server.url, "ls_api_key": TOKEN})
    return settings.with_(ls_url=ls_server.url, ls_api_key=TOKEN)

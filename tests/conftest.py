"""Shared fixtures: settings on a temporary data dir, SQLite and a real PostgreSQL.

PostgreSQL: set ``AVEL_TEST_PG_URL`` to a server URL whose user may create databases (the test
script does); each test that asks for it gets a fresh database, dropped afterwards. Without the
variable those tests are skipped, unless ``AVEL_REQUIRE_PG=1`` (CI), where they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from avel_annotate.config import Settings, load_settings

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
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
def samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip(f"real samples not present at {SAMPLES}")
    return SAMPLES

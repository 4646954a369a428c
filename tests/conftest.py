"""Shared fixtures: a private Prefect home per test session and small raw folders written here."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session", autouse=True)
def _isolated_prefect(tmp_path_factory):
    """Each test session gets its own Prefect database; telemetry is off (no internet here)."""
    home = tmp_path_factory.mktemp("prefect-home")
    os.environ["PREFECT_HOME"] = str(home)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    yield


@pytest.fixture
def seeds_raw(tmp_path) -> Path:
    """A raw folder holding the two seed articles the project carries in raw/."""
    raw = tmp_path / "raw"
    raw.mkdir()
    for path in sorted((REPO / "raw").glob("*.txt")):
        shutil.copy(path, raw / path.name)
    return raw


@pytest.fixture
def fixture_text():
    def read(name: str) -> str:
        return (FIXTURES / name).read_text(encoding="utf-8")
    return read

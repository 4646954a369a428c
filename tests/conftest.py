"""Shared fixtures: a private Prefect home per test session and small raw folders written here."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def pytest_configure(config):
    """Before any test module imports Prefect: a private Prefect database for the session, telemetry
    off (no internet here), and Prefect's console quiet, so that its shutdown message is not written
    to a stream pytest has already closed. The Prefect home is removed at exit, after the embedded
    servers using it have stopped (their exit handlers are registered later, so they run first)."""
    os.environ["PREFECT_HOME"] = home = tempfile.mkdtemp(prefix="coop-tests-prefect-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


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


@pytest.fixture(scope="session")
def resources():
    """Extraction dictionaries, loaded once per session as a run loads them once."""
    from coop_pipeline.extract import Resources

    return Resources.load()


def article_frame(text: str, dateline: str | None = None, publisher: str | None = None, article_id: str = "art-00000000000000a1"):
    """A one-article batch shaped like the staged articles table (the columns the extractors read)."""
    import pandas as pd

    return pd.DataFrame([{"article_id": article_id, "source_path": "case.txt", "text": text, "dateline": dateline, "source_name": publisher}])


@pytest.fixture
def article():
    return article_frame

"""Root pytest fixtures: the doctests of src/coop_pipeline (run with --doctest-modules) find an
`output/` directory in their working directory, like a user who ran the pipeline.

The tables themselves are built in tests/api_fixtures.py (a plain module: a second module named
`conftest` would clash with tests/conftest.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "tests"))
from api_fixtures import write_output  # noqa: E402


@pytest.fixture(scope="session")
def demo_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A committed output directory with the demo tables (shared: tests must not change it)."""
    return write_output(tmp_path_factory.mktemp("demo") / "output")


@pytest.fixture(scope="session")
def empty_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An output directory where every table exists and is empty."""
    return write_output(tmp_path_factory.mktemp("empty") / "output", {})


@pytest.fixture(autouse=True)
def _doctest_cwd(request: pytest.FixtureRequest) -> None:
    """Doctests run in a directory whose `output/` holds the demo tables."""
    if type(request.node).__name__ != "DoctestItem":
        return
    demo = request.getfixturevalue("demo_output")
    monkeypatch = request.getfixturevalue("monkeypatch")
    monkeypatch.chdir(demo.parent)

"""`--task-runner dask` (prefect-dask, a local cluster of 2 single-threaded workers) writes the same
tables as the default runner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from test_incremental import assert_same, snapshot, story

pytestmark = pytest.mark.slow
pytest.importorskip("prefect_dask", reason="the dask extra is not installed: pip install -e '.[dask]'")


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    return subprocess.run([sys.executable, "-m", "coop_pipeline", "run", *args], capture_output=True, text=True, timeout=600, env=env)


def test_dask_runner_writes_the_same_tables(seeds_raw, tmp_path):
    for i, (a, b) in enumerate([("Kazakhstan", "Kenya"), ("France", "Kazakhstan"), ("Russia", "Kazakhstan"), ("Kazakhstan", "China")]):
        (seeds_raw / f"story-{i}.txt").write_text(story(i, a, b, 5 + i), encoding="utf-8")
    shutil.copy(seeds_raw / "story-0.txt", seeds_raw / "story-0-copy.txt")
    (seeds_raw / "blank.txt").write_text(" ")
    threads, dask = tmp_path / "threads", tmp_path / "dask"
    done = cli("--raw", str(seeds_raw), "--out", str(threads), "--batch-size", "2")
    assert done.returncode == 0, done.stderr
    done = cli("--raw", str(seeds_raw), "--out", str(dask), "--batch-size", "2", "--task-runner", "dask", "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "distributed." not in done.stderr  # quiet by default
    assert_same(snapshot(dask), snapshot(threads))
    assert len(snapshot(dask)["articles"]) == 6

"""`coop-pipeline run` end to end, with Prefect's embedded server, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from coop_pipeline.cli import main
from coop_pipeline.store import TABLES


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "coop_pipeline", *args], capture_output=True, text=True, timeout=300, env=env or os.environ.copy())


@pytest.mark.slow
def test_run_command_end_to_end(seeds_raw, tmp_path):
    out = tmp_path / "out"
    done = run_cli("run", "--raw", str(seeds_raw), "--out", str(out))
    assert done.returncode == 0, done.stderr
    noise = done.stdout + done.stderr
    assert "Traceback" not in noise and "ERROR" not in noise and "Error flushing" not in noise
    assert "completed: 2 files (2 new" in done.stdout
    for table in TABLES:
        assert (out / table).is_dir()
    assert len(pd.read_parquet(out / "articles")) == 2
    runs = pd.read_parquet(out / "runs")
    assert runs.iloc[0]["status"] == "completed" and isinstance(runs.iloc[0]["flow_run_id"], str)

    again = run_cli("run", "--raw", str(seeds_raw), "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert "(0 new, 0 changed, 2 unchanged, 0 removed)" in again.stdout
    assert len(pd.read_parquet(out / "runs")) == 2


def test_missing_raw_dir_is_one_line_and_non_zero(tmp_path, capsys):
    code = main(["run", "--raw", str(tmp_path / "nope"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == f"coop-pipeline run: raw directory not found: {tmp_path / 'nope'}"
    assert not (tmp_path / "out").exists()  # bad configuration stops the run before any work

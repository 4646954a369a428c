"""One writer at a time, across processes: a second run waits for the lock or refuses in one line;
`serve` without a server refuses in one line too."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]

HOLDER = """
import sys, time
from pathlib import Path
from coop_pipeline.config import Settings
from coop_pipeline.pipeline import run_local
from coop_pipeline.store import Store
raw, out, ready = sys.argv[1:4]
with Store(Path(out)).lock(for_process=True):   # held before the run starts, as the CLI does
    Path(ready).write_text("locked")
    time.sleep(2.0)
    run_local(Settings(raw_dir=Path(raw), out_dir=Path(out)))
"""

WAITER = """
import sys
from pathlib import Path
from coop_pipeline.config import Settings
from coop_pipeline.pipeline import run_local
raw, out = sys.argv[1:3]
run_local(Settings(raw_dir=Path(raw), out_dir=Path(out), full=True), lock_wait=60)
"""


def _env() -> dict:
    return {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


def _start_holder(seeds_raw: Path, out: Path, tmp_path: Path) -> subprocess.Popen:
    ready = tmp_path / "ready"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(seeds_raw), str(out), str(ready)], env=_env())
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert holder.poll() is None and time.monotonic() < deadline, "the first run never took the lock"
        time.sleep(0.05)
    return holder


def test_second_cli_run_refuses_in_one_line(seeds_raw, tmp_path):
    out = tmp_path / "out"
    holder = _start_holder(seeds_raw, out, tmp_path)
    try:
        refused = subprocess.run([sys.executable, "-m", "coop_pipeline", "run", "--raw", str(seeds_raw), "--out", str(out), "--wait", "0.5"], capture_output=True, text=True, env=_env(), timeout=120)
    finally:
        holder.wait(timeout=120)
    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "is being written by pid" in lines[0] and "Traceback" not in refused.stderr
    assert holder.returncode == 0
    runs = pd.read_parquet(out / "runs")
    assert list(runs["status"]) == ["completed"]  # the refused run left no trace


def test_waiting_run_starts_after_the_first_one_finished(seeds_raw, tmp_path):
    out = tmp_path / "out"
    holder = _start_holder(seeds_raw, out, tmp_path)
    try:
        waiter = subprocess.run([sys.executable, "-c", WAITER, str(seeds_raw), str(out)], capture_output=True, text=True, env=_env(), timeout=120)
    finally:
        holder.wait(timeout=120)
    assert holder.returncode == 0 and waiter.returncode == 0, waiter.stderr
    runs = pd.read_parquet(out / "runs").sort_values("started_at")
    assert list(runs["status"]) == ["completed", "completed"]
    assert list(runs["mode"]) == ["incremental", "full"]
    # Never interleaved: the second run started planning only after the first one had committed.
    assert runs.iloc[0]["finished_at"] <= runs.iloc[1]["started_at"]
    assert len(pd.read_parquet(out / "articles")) == 2


def test_serve_without_a_server_says_how_to_start_one(seeds_raw, tmp_path):
    env = {k: v for k, v in _env().items() if k != "PREFECT_API_URL"}
    done = subprocess.run([sys.executable, "-m", "coop_pipeline", "serve", "--interval", "5", "--raw", str(seeds_raw), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "coop-pipeline serve: no Prefect server to serve on: run `prefect server start --host 127.0.0.1` and "
        "`export PREFECT_API_URL=http://127.0.0.1:4200/api` first"
    ]

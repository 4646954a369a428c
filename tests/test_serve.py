"""`coop-pipeline serve` against a real Prefect server: scheduled runs happen and pick up new files.

Starts `prefect server start` on a free loopback port with its own PREFECT_HOME, serves the flow every
few seconds, drops a new article into the raw folder and waits for a later scheduled run to ingest it.
Every process started here is stopped at the end, whatever happens.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow
PREFECT = Path(sys.executable).with_name("prefect")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(proc: subprocess.Popen) -> None:
    """Interrupt the process group, then kill it if it lingers."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def wait_for(predicate, timeout: float, what: str, procs=()) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        for proc in procs:
            assert proc.poll() is None, f"{proc.args[:3]} exited with {proc.returncode} while waiting for {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def completed_runs(out: Path) -> pd.DataFrame:
    try:
        runs = pd.read_parquet(out / "runs")
    except (OSError, ValueError):
        return pd.DataFrame(columns=["status", "files_new"])
    return runs[runs["status"] == "completed"]


def test_scheduled_runs_pick_up_a_new_file(seeds_raw, tmp_path):
    # The pin that makes the server's scheduler work at all (see pyproject.toml).
    assert tuple(int(x) for x in version("sqlalchemy").split(".")[:2]) < (2, 1)
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",  # default 60: too slow for a test
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    env.pop("PREFECT_API_URL", None)
    logs = tmp_path / "logs"
    logs.mkdir()
    out = tmp_path / "out"
    server = subprocess.Popen([str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port)], env=env,
                              stdout=open(logs / "server.log", "w"), stderr=subprocess.STDOUT, start_new_session=True)
    served = None
    try:
        wait_for(lambda: healthy(api), 180, "the Prefect server", [server])
        served = subprocess.Popen([sys.executable, "-m", "coop_pipeline", "serve", "--interval", "5", "--raw", str(seeds_raw), "--out", str(out)],
                                  env={**env, "PREFECT_API_URL": api}, stdout=open(logs / "serve.log", "w"), stderr=subprocess.STDOUT,
                                  start_new_session=True)
        wait_for(lambda: len(completed_runs(out)) >= 1, 240, "a first scheduled run", [server, served])
        assert len(pd.read_parquet(out / "articles")) == 2
        first_runs = len(completed_runs(out))

        text = (seeds_raw / "002_ab846ab5c136d731.txt").read_text(encoding="utf-8")
        (seeds_raw / "late-news.txt").write_text(text.replace("Astana", "Almaty") + "\n\nThe sides will meet again in Paris.", encoding="utf-8")
        wait_for(lambda: len(pd.read_parquet(out / "articles")) == 3, 240, "a later run to ingest the new file", [server, served])
        runs = completed_runs(out)
        assert len(runs) > first_runs
        assert runs.iloc[-1]["files_new"] == 1 or (runs["files_new"] == 1).any()
        assert runs["flow_run_id"].notna().all()  # each one a Prefect flow run of the deployment
        assert "late-news.txt" in set(pd.read_parquet(out / "articles")["source_path"])
    except AssertionError:
        for log in logs.iterdir():
            print(f"--- {log.name}\n{log.read_text()[-4000:]}")
        raise
    finally:
        if served is not None:
            stop(served)
        stop(server)
    assert served.poll() is not None and server.poll() is not None

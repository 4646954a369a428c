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


@pytest.mark.slow
def test_embedded_server_runs_beside_the_run_and_stops_with_it(seeds_raw, tmp_path):
    """A run starts Prefect's embedded server as a subprocess without importing the server's code into
    its own process (about 70 MiB and 1.5 CPU-seconds a run), and the server stops when the run ends."""
    script = (
        "import sys\n"
        "from coop_flows.launch import launch_run, start_embedded_server\n"
        f"result = launch_run({str(seeds_raw)!r}, {str(tmp_path / 'out')!r})\n"
        "print(start_embedded_server().process.pid, result['rows']['articles'], any(m.startswith('prefect.server') for m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    pid, articles, imported_server = done.stdout.split()
    assert articles == "2" and imported_server == "False"
    assert not os.path.exists(f"/proc/{pid}")  # stopped, not left running without its run


def test_head_start_server_is_kept_unless_the_settings_name_another_server(tmp_path):
    """`coop-pipeline run` starts the embedded server before Prefect is imported; once the settings are
    loaded the run uses that server, or stops it when a profile points at another server."""
    script = (
        "import os\n"
        "from coop_flows.launch import start_server_now, start_embedded_server\n"
        "start_server_now()\n"
        "from coop_flows import launch\n"
        "early = launch._SERVER.process.pid\n"
        "server = start_embedded_server()\n"
        "print(early, server.process.pid if server else None, os.path.exists(f'/proc/{early}'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_PROFILE")}
    for home, profile in (("default", None), ("team", 'active = "team"\n[profiles.team]\nPREFECT_API_URL = "http://127.0.0.1:9/api"\n')):
        (tmp_path / home).mkdir()
        if profile:
            (tmp_path / home / "profiles.toml").write_text(profile)
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                              env={**env, "PREFECT_HOME": str(tmp_path / home)})
        assert done.returncode == 0, done.stderr
        early, used, alive = done.stdout.split()
        if profile:
            assert used == "None" and alive == "False"  # stopped, and the run talks to the team's server
        else:
            assert used == early and alive == "True"  # the head start is the run's server


def test_missing_raw_dir_is_one_line_and_non_zero(tmp_path, capsys):
    code = main(["run", "--raw", str(tmp_path / "nope"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == f"coop-pipeline run: raw directory not found: {tmp_path / 'nope'}"
    assert not (tmp_path / "out").exists()  # bad configuration stops the run before any work

"""Crash safety: a run killed at any moment leaves every table whole as of the last finished run, and
the next run completes the work with no duplicate or orphan rows.

The fast test kills a run (in a forked child, with SIGKILL) just before each file-system change it
makes, one kill point after another; the slow one kills `coop-pipeline run` itself, part-way through
a few thousand articles.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

import pandas as pd
import pytest

from coop_pipeline.config import Settings
from coop_pipeline.pipeline import run_local
from reliability_helpers import article, assert_whole, fingerprint, install_fake_extractors, write_articles

# Every way a run changes the output directory goes through one of these.
MUTATIONS = ((os, "replace"), (os, "rename"), (os, "link"), (os, "symlink"), (os, "unlink"), (os, "mkdir"), (os, "rmdir"), (shutil, "rmtree"))


def patch_mutations(on_call) -> None:
    """Call `on_call(name)` before every file-system change (in this process, for good); the
    deletions inside one `rmtree` count as one change."""
    depth = [0]
    for module, name in MUTATIONS:
        original = getattr(module, name)

        def wrapper(*args, _original=original, _name=name, **kwargs):
            if depth[0]:
                return _original(*args, **kwargs)
            on_call(_name)
            depth[0] += _name == "rmtree"
            try:
                return _original(*args, **kwargs)
            finally:
                depth[0] -= _name == "rmtree"

        setattr(module, name, wrapper)


def run_killed_at(settings: Settings, point: int, timeout: float = 120) -> bool:
    """Run in a forked child that SIGKILLs itself just before its `point`-th file-system change.
    True if it was killed, False if the run finished before reaching that point."""
    pid = os.fork()
    if pid == 0:  # the child: never returns to pytest
        try:
            calls = [0]

            def maybe_die(name: str) -> None:
                calls[0] += 1
                if calls[0] == point:
                    os.kill(os.getpid(), signal.SIGKILL)

            patch_mutations(maybe_die)
            run_local(settings)
        finally:
            os._exit(0)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"run killed at point {point} hung")
        time.sleep(0.01)
    assert os.WIFSIGNALED(status) or os.WEXITSTATUS(status) == 0, f"child failed at point {point}"
    return os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


def mutation_log(settings: Settings) -> list[str]:
    """The file-system changes an uninterrupted run makes, in order, as `name:function` labels."""
    pid = os.fork()
    if pid == 0:
        labels = []
        try:
            def record(name: str) -> None:
                caller = next((f.name for f in reversed(traceback.extract_stack()[:-2]) if "coop_pipeline" in f.filename), "?")
                labels.append(f"{name}:{caller}")

            patch_mutations(record)
            run_local(settings)
            (settings.out_dir.parent / "mutations.json").write_text(json.dumps(labels))
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    return json.loads((settings.out_dir.parent / "mutations.json").read_text())


def kill_points(labels: list[str]) -> list[int]:
    """Which changes to kill the run before: all with COOP_CRASH_POINTS=all (a few minutes), else
    every tenth plus every change around a head switch (the commit points)."""
    if os.environ.get("COOP_CRASH_POINTS") == "all":
        return list(range(1, len(labels) + 1))
    points = set(range(1, len(labels) + 1, 10))
    for i, label in enumerate(labels, 1):
        if label == "replace:_publish":
            points |= {i - 1, i, i + 1}
    return sorted(p for p in points if 1 <= p <= len(labels))


def change_raw(raw: Path) -> None:
    """New files (one a duplicate, one not an article), a changed file, a removed one."""
    write_articles(raw, 5, start=100, prefix="new")
    (raw / "new-copy.txt").write_text(article(2))
    (raw / "new-bad.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    (raw / "a00003.txt").write_text(article(203))
    (raw / "a00004.txt").unlink()


def test_a_run_killed_before_any_file_system_change_loses_and_duplicates_nothing(tmp_path, monkeypatch):
    install_fake_extractors(monkeypatch.setattr)
    raw = tmp_path / "raw"
    write_articles(raw, 10)
    base = tmp_path / "base"
    run_local(Settings(raw_dir=raw, out_dir=base, batch_size=4))
    before = fingerprint(base)
    change_raw(raw)
    counted = tmp_path / "counted"
    shutil.copytree(base, counted, symlinks=True)
    labels = mutation_log(Settings(raw_dir=raw, out_dir=counted, batch_size=4))
    total = len(labels)
    reference = tmp_path / "reference"
    shutil.copytree(base, reference, symlinks=True)
    run_local(Settings(raw_dir=raw, out_dir=reference, batch_size=4))
    after = fingerprint(reference)
    assert after != before and labels.count("replace:_publish") == 2  # the `running` record, then the run

    killed_states = {"before": 0, "after": 0}
    for point in kill_points(labels):
        out = tmp_path / f"killed-{point}"
        shutil.copytree(base, out, symlinks=True)
        settings = Settings(raw_dir=raw, out_dir=out, batch_size=4)
        assert run_killed_at(settings, point), f"the run finished before its {point}-th change of {total}"
        # Right after the kill: every table is whole, all of the old run's or all of the new run's.
        state = fingerprint(out)
        assert state in (before, after), f"killed before {labels[point - 1]} ({point} of {total}): tables mix two runs"
        killed_states["before" if state == before else "after"] += 1
        assert_whole(out)
        # The next run finishes the work: the same tables as an uninterrupted run, nothing twice.
        run_local(settings)
        assert fingerprint(out) == after, f"killed before {labels[point - 1]} ({point} of {total}): the next run did not repair it"
        assert_whole(out)
        runs = pd.read_parquet(out / "runs")
        assert not (runs["status"] == "running").any()
        assert (runs["status"] == "completed").sum() in (2, 3)
        assert not (out / "_store" / "staging").exists() or not any((out / "_store" / "staging").iterdir())
        shutil.rmtree(out)
    # Kill points fell on both sides of the commit point.
    assert killed_states["before"] > 0 and killed_states["after"] > 0, killed_states


# -- the real thing: SIGKILL to `coop-pipeline run` ---------------------------------------------------
SITECUSTOM = Path(__file__).parent / "sitecustom"


def pipeline_env(prefect_home: Path, **extra: str) -> dict[str, str]:
    """Environment of a `coop-pipeline run` subprocess: own Prefect home, stand-in extractors."""
    return {
        **os.environ,
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SITECUSTOM), os.environ.get("PYTHONPATH")])),
        "COOP_TEST_FAKE_EXTRACTORS": "1",
        **extra,
    }


def run_command(raw: Path, out: Path, env: dict[str, str], batch_size: int = 250) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "coop_pipeline", "run", "--raw", str(raw), "--out", str(out), "--batch-size", str(batch_size)],
        env=env, capture_output=True, text=True, timeout=300,
    )


@pytest.mark.slow
def test_sigkill_of_a_running_flow_then_rerun(tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "out"
    env = pipeline_env(tmp_path / "prefect")
    write_articles(raw, 600)
    first = run_command(raw, out, env)
    assert first.returncode == 0, first.stderr
    after_first = fingerprint(out)
    write_articles(raw, 2400, start=600)

    # Kill the whole process group (the flow and Prefect's server) once the first batches are staged.
    proc = subprocess.Popen(
        [sys.executable, "-m", "coop_pipeline", "run", "--raw", str(raw), "--out", str(out), "--batch-size", "250"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not list((out / "_store" / "staging").glob("*/articles/part-*.parquet")):
            assert proc.poll() is None, "the run ended before it was killed"
            assert time.monotonic() < deadline, "no staged part appeared"
            time.sleep(0.05)
        time.sleep(0.5)  # a little further in: more batches staged, maybe extraction started
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    # The killed run left every table as the first run wrote it, readable; it is recorded as running.
    assert fingerprint(out) == after_first
    assert_whole(out)
    runs = pd.read_parquet(out / "runs").sort_values("started_at")
    assert list(runs["status"]) == ["completed", "running"]

    again = run_command(raw, out, env)
    assert again.returncode == 0, again.stderr
    tables = assert_whole(out)
    assert len(tables["articles"]) == 3000 and set(tables["articles"]["source_path"]) == {p.name for p in raw.iterdir()}
    assert tables["quarantine"].empty
    # Every article has its records once: the stand-in finds the two countries of each "met with" sentence.
    assert len(tables["events"]) == 3000 and len(tables["relationships"]) == 3000 and len(tables["event_participants"]) == 6000
    assert tables["mentions"]["article_id"].nunique() == 3000
    runs = pd.read_parquet(out / "runs").sort_values("started_at")
    assert list(runs["status"]) == ["completed", "failed", "completed"]
    assert "interrupted" in runs["error"].iloc[1]
    import duckdb
    import polars as pl

    assert duckdb.sql(f"select count(*) from read_parquet('{out}/events/*.parquet')").fetchall() == [(3000,)]
    assert pl.read_parquet(f"{out}/articles/*.parquet").height == 3000

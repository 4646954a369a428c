"""The store publishes all tables in one switch, hides unpublished work, and takes over old layouts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from coop_pipeline.config import Settings
from coop_pipeline.pipeline import begin_run, run_local
from coop_pipeline.schemas import empty_frame
from coop_pipeline.store import ALL_TABLES, TABLES, Store, write_parquet
from reliability_helpers import write_articles


def quarantine_frame(paths: list[str]) -> pd.DataFrame:
    now = pd.Timestamp("2024-01-01", tz="UTC")
    return pd.DataFrame([{"source_path": p, "stage": "ingest", "reason": "empty", "detail": "d", "table_name": None, "record_id": None, "run_id": "r", "at": now} for p in paths])


def test_unpublished_work_is_invisible_and_removed_by_the_next_writer(tmp_path):
    store = Store(tmp_path / "out")
    store.recover()
    store.commit("r1", replace={"quarantine": quarantine_frame(["a.txt"])})
    tx = store.transaction("r2")
    tx.replace("quarantine", quarantine_frame(["a.txt", "b.txt"]))
    assert len(tx.read("quarantine")) == 2  # the transaction sees its own version...
    assert list(pd.read_parquet(tmp_path / "out" / "quarantine")["source_path"]) == ["a.txt"]  # ...readers do not
    pending = tmp_path / "out" / "_store" / "quarantine" / tx.versions["quarantine"]
    assert pending.is_dir()
    store.recover()  # what a killed run left: nobody points to it
    assert not pending.exists()
    assert list(pd.read_parquet(tmp_path / "out" / "quarantine")["source_path"]) == ["a.txt"]


def test_one_commit_switches_every_table_at_once(tmp_path):
    store = Store(tmp_path / "out")
    store.recover()
    head_before = os.readlink(store.head)
    store.commit("r1", replace={"quarantine": quarantine_frame(["a.txt"]), "files": empty_frame("files")})
    head_after = os.readlink(store.head)
    assert head_before != head_after
    # Every public table link goes through the one head link.
    for table in TABLES:
        assert os.readlink(tmp_path / "out" / table) == f"_store/current/{table}"
    snapshot = tmp_path / "out" / "_store" / head_after
    assert sorted(p.name for p in snapshot.iterdir()) == sorted(ALL_TABLES)


def test_a_reader_of_an_older_snapshot_can_finish_reading(tmp_path):
    store = Store(tmp_path / "out")
    store.recover()
    store.commit("r1", replace={"quarantine": quarantine_frame(["a.txt"])})
    # A reader that resolves the table link first (what coop_pipeline's own readers should do) has a
    # version that stays put; a reader of the public path re-resolves it at every open.
    parts = sorted(Path(os.path.realpath(tmp_path / "out" / "quarantine")).glob("*.parquet"))  # it has listed the files...
    for i in range(2):  # ...and a run (its `running` record and its commit) publishes meanwhile
        store.commit(f"r{i + 2}", replace={"quarantine": quarantine_frame(["b.txt"])})
    assert list(pd.read_parquet(parts[0])["source_path"]) == ["a.txt"]


def test_an_output_directory_of_the_old_layout_is_taken_over(tmp_path):
    out = tmp_path / "out"
    root = out / "_store"
    # The pre-snapshot layout: OUT/<table> linked straight to a version, internal links in a real
    # `_store/current/` folder, and a journal of a switch a killed run had begun.
    for table in ALL_TABLES:
        version = root / table / "v00000000000000000001-aaaaaa"
        frame = quarantine_frame(["old.txt"]) if table == "quarantine" else empty_frame(table)
        write_parquet(table, frame, version / "part-1.parquet")
        link = (root / "current" / table) if table not in TABLES else (out / table)
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(version, link.parent), link)
    newer = root / "quarantine" / "v00000000000000000002-bbbbbb"
    write_parquet("quarantine", quarantine_frame(["old.txt", "new.txt"]), newer / "part-2.parquet")
    (root / "journal.json").write_text(json.dumps({"quarantine": newer.name}))

    Store(out).recover()
    assert sorted(pd.read_parquet(out / "quarantine")["source_path"]) == ["new.txt", "old.txt"]  # rolled forward
    assert os.readlink(out / "articles") == "_store/current/articles" and (root / "current").is_symlink()
    assert not (root / "journal.json").exists()
    assert Store(out).read("files").empty


def test_a_run_that_died_is_recorded_as_failed_by_the_next(tmp_path):
    write_articles(tmp_path / "raw", 3)
    settings = Settings(raw_dir=tmp_path / "raw", out_dir=tmp_path / "out")
    store = Store(settings.out_dir)
    with store.lock():
        dead = begin_run(settings, store)  # ...and then the process is killed
    assert pd.read_parquet(tmp_path / "out" / "runs")["status"].tolist() == ["running"]
    run_local(settings)
    runs = pd.read_parquet(tmp_path / "out" / "runs").set_index("run_id")
    assert runs.loc[dead.run_id, "status"] == "failed" and "interrupted" in runs.loc[dead.run_id, "error"]
    assert pd.isna(runs.loc[dead.run_id, "finished_at"])
    assert (runs["status"] == "completed").sum() == 1
    assert len(pd.read_parquet(tmp_path / "out" / "articles")) == 3


def test_a_part_name_never_stands_for_two_contents(tmp_path):
    """A reader listing `OUT/<table>` just before a commit and opening a part just after finds the same
    rows or no file, never other rows under the old name."""
    store = Store(tmp_path / "out")
    store.recover()
    store.stage("r1", "quarantine", "batch", quarantine_frame(["a.txt", "b.txt"]))
    store.commit("r1")
    before = {p.name: pd.read_parquet(p) for p in store.parts("quarantine")}
    store.commit("r2", delete={"quarantine": ("source_path", {"a.txt"})})
    after = {p.name: pd.read_parquet(p) for p in store.parts("quarantine")}
    assert list(pd.concat(after.values())["source_path"]) == ["b.txt"]
    for name in set(before) & set(after):
        pd.testing.assert_frame_equal(before[name], after[name])

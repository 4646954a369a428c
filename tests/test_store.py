"""Store: atomic versioned tables readable by pandas, pyarrow, DuckDB and Polars."""

from __future__ import annotations

import datetime as dt
import json
import os

import pandas as pd
import pyarrow.dataset as ds
import pytest

from coop_pipeline.errors import LockError
from coop_pipeline.schemas import MODELS, arrow_schema
from coop_pipeline import store as store_module
from coop_pipeline.store import TABLES, Store


def article(i: int, text: str = "Kazakhstan met Kenya.") -> dict:
    return {
        "article_id": f"art-{i:016x}", "source_path": f"{i}.txt", "duplicate_paths": [], "source_name": None,
        "title": None, "published_date": dt.date(2020, 1, i), "date_source": "header", "dateline": None,
        "language": "en", "encoding": "utf-8", "text": text, "n_chars": len(text), "n_sentences": 1,
        "content_sha256": "0" * 64, "ingested_at": pd.Timestamp("2024-01-01", tz="UTC"), "pipeline_version": "test",
    }


def test_fresh_store_has_every_table_empty_and_typed(tmp_path):
    store = Store(tmp_path)
    store.recover()
    for table in TABLES:
        frame = pd.read_parquet(tmp_path / table)
        assert frame.empty
        assert ds.dataset(tmp_path / table).schema.remove_metadata().equals(arrow_schema(table))


def test_commit_adds_and_deletes_by_article(tmp_path):
    store = Store(tmp_path)
    store.recover()
    store.stage("r1", "articles", "r1-0", pd.DataFrame([article(2), article(1)]))
    store.commit("r1")
    first = store.read("articles")
    assert list(first["article_id"]) == ["art-0000000000000001", "art-0000000000000002"]  # stable order
    assert first["published_date"].iloc[0] == dt.date(2020, 1, 1)
    store.stage("r2", "articles", "r2-0", pd.DataFrame([article(3)]))
    counts = store.commit("r2", delete={"articles": ("article_id", {"art-0000000000000001"})})
    assert counts["articles"] == 2
    assert set(store.read("articles")["article_id"]) == {"art-0000000000000002", "art-0000000000000003"}


def test_unchanged_parts_are_shared_not_copied(tmp_path):
    store = Store(tmp_path)
    store.recover()
    store.stage("r1", "articles", "r1-0", pd.DataFrame([article(1)]))
    store.commit("r1")
    before = {p.name: os.stat(p).st_ino for p in store.parts("articles")}
    store.stage("r2", "articles", "r2-0", pd.DataFrame([article(2)]))
    store.commit("r2")
    after = {p.name: os.stat(p).st_ino for p in store.parts("articles")}
    shared = set(before) & set(after)
    assert shared and all(before[n] == after[n] for n in shared)


def test_update_sets_a_column_in_place_and_rewrites_only_the_parts_it_touches(tmp_path):
    store = Store(tmp_path)
    store.recover()
    store.stage("r1", "articles", "r1-0", pd.DataFrame([article(1), article(2)]))
    store.stage("r1", "articles", "r1-1", pd.DataFrame([article(3)]))
    store.commit("r1")
    untouched = {p.name: os.stat(p).st_ino for p in store.parts("articles") if p.name == "part-r1-1.parquet"}
    tx = store.transaction("r2")
    tx.apply_staged({"articles": ("article_id", {"art-0000000000000001"})}, update={"articles": ("article_id", "title", {"art-0000000000000002": "Renamed", "art-0000000000000009": "absent"})})
    tx.publish()
    rows = store.read("articles").set_index("article_id")
    assert list(rows.index) == ["art-0000000000000002", "art-0000000000000003"]  # deleted in the same rewrite
    assert rows.loc["art-0000000000000002", "title"] == "Renamed" and pd.isna(rows.loc["art-0000000000000003", "title"])
    assert rows.loc["art-0000000000000002", "published_date"] == dt.date(2020, 1, 2)  # other columns as they were
    after = {p.name: os.stat(p).st_ino for p in store.parts("articles")}
    assert after["part-r1-1.parquet"] == untouched["part-r1-1.parquet"]  # no key of it updated: shared
    assert ds.dataset(tmp_path / "articles").schema.remove_metadata().equals(arrow_schema("articles"))


def test_a_part_rewritten_only_to_set_a_column_records_where_it_came_from(tmp_path):
    store = Store(tmp_path)
    store.recover()
    store.stage("r1", "articles", "r1-0", pd.DataFrame([article(1), article(2)]))
    store.stage("r1", "articles", "r1-1", pd.DataFrame([article(3), article(4)]))
    store.commit("r1")
    before = store.current_version("articles")
    tx = store.transaction("r2")
    # part r1-0 only gets a new title; part r1-1 also loses a row, so it is no mere update
    tx.apply_staged({"articles": ("article_id", {"art-0000000000000004"})},
                    update={"articles": ("article_id", "title", {"art-0000000000000001": "Renamed", "art-0000000000000003": "Too"})})
    tx.publish()
    version = store.current_version("articles")
    derived = store.derived_parts("articles", version)
    (name, (source, column)), = derived.items()
    assert name.startswith("part-r1-0~") and source == store.root / "articles" / before / "part-r1-0.parquet" and column == "title"
    for run in ("r3", "r4", "r5", "r6"):  # later commits retire that version: its lineage goes with it
        store.stage(run, "articles", run, pd.DataFrame([article(10 + int(run[1:]))]))
        store.commit(run)
    assert not (store.root / "articles" / version).exists() and store.derived_parts("articles", version) == {}
    assert not list((store.root / "lineage").glob("*/*"))


def test_parts_rewritten_at_once_are_recorded_in_part_order(tmp_path):
    store = Store(tmp_path)
    store.recover()
    for i in range(6):  # more parts than threads, so that they finish in any order
        store.stage("r1", "articles", f"r1-{i}", pd.DataFrame([article(i + 1)]))
    store.commit("r1")
    tx = store.transaction("r2")
    tx.apply_staged(update={"articles": ("article_id", "title", {f"art-{i + 1:016x}": f"t{i}" for i in range(6)})})
    tx.publish()
    derived = json.loads((store.root / "lineage" / "articles" / f"{store.current_version('articles')}.json").read_text())
    assert [name.split("~")[0] for name in derived] == [f"part-r1-{i}" for i in range(6)]
    assert list(store.read("articles")["title"]) == [f"t{i}" for i in range(6)]


def test_an_error_rewriting_one_part_fails_the_commit_and_publishes_nothing(tmp_path, monkeypatch):
    store = Store(tmp_path)
    store.recover()
    for i in range(6):
        store.stage("r1", "articles", f"r1-{i}", pd.DataFrame([article(2 * i + 1), article(2 * i + 2)]))
    store.commit("r1")
    published = store.current_version("articles")
    versions = {v.name for v in (store.root / "articles").iterdir()}
    rewrite_part = store_module.rewrite_part

    def failing(part, deletes, update):
        if part.name == "part-r1-3.parquet":
            raise OSError("disk full")
        return rewrite_part(part, deletes, update)

    monkeypatch.setattr(store_module, "rewrite_part", failing)
    store.stage("r2", "articles", "r2-0", pd.DataFrame([article(9)]))
    with pytest.raises(OSError, match="disk full"):
        store.commit("r2", delete={"articles": ("article_id", {f"art-{2 * i + 1:016x}" for i in range(6)})})  # every part rewritten
    assert store.current_version("articles") == published
    assert list(store.read("articles")["article_id"]) == [f"art-{i + 1:016x}" for i in range(12)]
    assert len(list((store.root / "articles").iterdir())) == len(versions) + 1  # built, never published
    Store(tmp_path).recover()  # the next writer removes what the failed commit built
    assert {v.name for v in (store.root / "articles").iterdir()} == versions


def test_half_done_commit_is_invisible_and_discarded(tmp_path):
    store = Store(tmp_path)
    store.recover()
    store.stage("r1", "articles", "r1-0", pd.DataFrame([article(1)]))
    store.commit("r1")
    # Simulate a run killed after building the next version and before publishing it.
    tx = store.transaction("r2")
    tx.apply_staged({"articles": ("article_id", {"art-0000000000000001"})})
    assert len(pd.read_parquet(tmp_path / "articles")) == 1  # readers still see the last commit
    Store(tmp_path).recover()
    assert len(pd.read_parquet(tmp_path / "articles")) == 1  # never published: the last commit stands
    assert not (store.root / "articles" / tx.versions["articles"]).exists()


def test_torn_journal_is_discarded(tmp_path):
    store = Store(tmp_path)
    store.recover()
    store.stage("r1", "articles", "r1-0", pd.DataFrame([article(1)]))
    store.commit("r1")
    (store.root / "journal.json").write_text('{"articles": "v0')  # killed while writing it
    store.recover()
    assert len(store.read("articles")) == 1


def test_lock_refuses_second_writer(tmp_path):
    store = Store(tmp_path)
    with store.lock():
        with pytest.raises(LockError, match="being written"):
            with Store(tmp_path).lock(wait_seconds=0.3):
                pass
    with Store(tmp_path).lock():  # released
        pass


def test_every_reader_opens_a_table(tmp_path):
    duckdb = pytest.importorskip("duckdb")
    polars = pytest.importorskip("polars")
    store = Store(tmp_path)
    store.recover()
    store.stage("r1", "articles", "r1-0", pd.DataFrame([article(1), article(2)]))
    store.commit("r1")
    assert duckdb.sql(f"select count(*) from read_parquet('{tmp_path}/articles/*.parquet')").fetchall()[0][0] == 2
    frame = polars.read_parquet(f"{tmp_path}/articles/*.parquet")
    assert frame.shape[0] == 2 and str(frame.schema["published_date"]) == "Date"
    assert ds.dataset(tmp_path / "articles").to_table().num_rows == 2
    assert set(MODELS) == set(TABLES)

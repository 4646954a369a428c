"""The run as plain functions (no Prefect): every file accounted for, tables valid, reruns idempotent."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pandas as pd

from coop_pipeline.config import Settings
from coop_pipeline.pipeline import run_local
from coop_pipeline.schemas import MODELS
from coop_pipeline.store import TABLES, Store


def test_seeds_give_two_articles_and_valid_tables(seeds_raw, tmp_path):
    out = tmp_path / "out"
    result = run_local(Settings(raw_dir=seeds_raw, out_dir=out))
    articles = pd.read_parquet(out / "articles").set_index("source_path")
    assert len(articles) == 2
    assert articles.loc["000_e2e4173cf047b6d0.txt", "published_date"] == dt.date(2025, 9, 5)
    assert articles.loc["002_ab846ab5c136d731.txt", "published_date"] == dt.date(2017, 9, 11)
    assert articles.loc["000_e2e4173cf047b6d0.txt", "source_name"] == "Kazakhstan Today"
    assert articles.loc["002_ab846ab5c136d731.txt", "source_name"] == "Kazinform"
    assert articles.loc["002_ab846ab5c136d731.txt", "dateline"] == "Astana"
    for table in TABLES:
        frame = pd.read_parquet(out / table)
        MODELS[table].validate(frame, lazy=True)
    runs = pd.read_parquet(out / "runs")
    assert list(runs["status"]) == ["completed"]
    assert runs.iloc[0]["run_id"] == result["run_id"]
    assert json.loads(runs.iloc[0]["rows_written"])["articles"] == 2


def test_second_run_changes_nothing_but_its_runs_row(seeds_raw, tmp_path):
    settings = Settings(raw_dir=seeds_raw, out_dir=tmp_path / "out")
    run_local(settings)
    store = Store(settings.out_dir)
    before = {t: store.read(t) for t in TABLES if t != "runs"}
    run_local(settings)
    for table, frame in before.items():
        pd.testing.assert_frame_equal(store.read(table), frame)
    runs = store.read("runs")
    assert len(runs) == 2 and runs.iloc[1]["files_unchanged"] == 2 and runs.iloc[1]["files_new"] == 0


def test_every_raw_file_ends_in_articles_or_quarantine(seeds_raw, tmp_path):
    shutil.copy(seeds_raw / "000_e2e4173cf047b6d0.txt", seeds_raw / "renamed copy.txt")
    (seeds_raw / "empty.txt").write_text("")
    (seeds_raw / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (seeds_raw / "stub.html").write_text("<html><body><p>Short.</p></body></html>")
    out = tmp_path / "out"
    run_local(Settings(raw_dir=seeds_raw, out_dir=out))
    articles = pd.read_parquet(out / "articles")
    quarantine = pd.read_parquet(out / "quarantine")
    accounted = set(articles["source_path"]) | {p for ps in articles["duplicate_paths"] for p in ps} | set(quarantine["source_path"])
    assert accounted == {p.name for p in seeds_raw.iterdir()}
    assert dict(zip(quarantine["source_path"], quarantine["reason"])) == {"empty.txt": "empty", "photo.txt": "binary", "stub.html": "not_article"}
    assert len(articles) == 2


def test_changed_and_removed_files_replace_their_records(seeds_raw, tmp_path):
    settings = Settings(raw_dir=seeds_raw, out_dir=tmp_path / "out")
    run_local(settings)
    target = seeds_raw / "002_ab846ab5c136d731.txt"
    target.write_text(target.read_text(encoding="utf-8") + "\n\nThe sides agreed to meet again in Paris next year.", encoding="utf-8")
    (seeds_raw / "000_e2e4173cf047b6d0.txt").unlink()
    run_local(settings)
    articles = pd.read_parquet(settings.out_dir / "articles")
    assert list(articles["source_path"]) == ["002_ab846ab5c136d731.txt"]
    assert articles.iloc[0]["text"].endswith("meet again in Paris next year.")
    runs = pd.read_parquet(settings.out_dir / "runs")
    assert runs.iloc[-1][["files_changed", "files_removed"]].tolist() == [1, 1]

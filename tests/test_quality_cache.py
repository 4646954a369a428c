"""The quality report from cached part summaries equals one computed from scratch, and summarises
only the parts a run wrote."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from coop_pipeline import pipeline, quality, quality_parts
from coop_pipeline.config import Settings
from coop_pipeline.pipeline import run_local
from coop_pipeline.store import TABLES, Store
from quality_fixtures import healthy_tables, last_run_id, write_tables

TODAY = dt.date(2026, 11, 21)
COUNTRIES = ["Kazakhstan", "Kenya", "France", "Russia", "China", "India"]


def story(i: int, year: int = 2024) -> str:
    a, b = COUNTRIES[i % len(COUNTRIES)], COUNTRIES[(i * 5 + 1) % len(COUNTRIES)]
    return (
        f"{1 + i % 27:02d}.03.{year}, 10:{i % 60:02d} {100 + i}\n\n{a} and {b} discuss space cooperation\n\n"
        f"Officials of {a} met their colleagues from {b} in Astana on Tuesday to discuss satellite data "
        f"sharing and the training of engineers, the press service reported in statement number {i}.\n\n"
        f"The delegations of {a} and {b} signed an agreement on {1 + i % 27} March {year - i % 2} and agreed to continue the consultations.\n"
    )


def comparable(report: dict) -> dict:
    """The report as JSON would hold it, without the moment it was written."""
    plain = json.loads(json.dumps(report, default=str))
    plain.pop("generated_at")
    return plain


def fresh(settings: Settings, run_id: str, **kwargs) -> dict:
    """The report computed from scratch (the cache is set aside meanwhile, then put back)."""
    cache = settings.out_dir / "_store" / quality_parts.CACHE_DIR
    aside = cache.with_name("aside")
    cache.rename(aside)
    try:
        return quality.build_report(settings, run_id, **kwargs)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        aside.rename(cache)


@pytest.fixture
def summarised(monkeypatch):
    """(table, part path) of every part summarised from its Parquet file."""
    calls: list[tuple[str, str]] = []
    summarise = quality_parts.summarise

    def counted(table, part, n):
        calls.append((table, str(part)))
        return summarise(table, part, n)

    monkeypatch.setattr(quality_parts, "summarise", counted)
    return calls


def current_parts(out) -> set[str]:
    store = Store(out)
    return {str(p) for table in TABLES for p in store.parts(table)}


def test_incremental_runs_report_as_from_scratch_and_summarise_only_new_parts(tmp_path, summarised):
    raw, out = tmp_path / "raw", tmp_path / "out"
    raw.mkdir()
    for i in range(9):
        (raw / f"s{i:02d}.txt").write_text(story(i), encoding="utf-8")
    settings = Settings(raw_dir=raw, out_dir=out, batch_size=3)
    run_local(settings)
    before = current_parts(out)
    summarised.clear()

    for i in range(9, 12):  # new files
        (raw / f"s{i:02d}.txt").write_text(story(i, year=2023), encoding="utf-8")
    run_local(settings)
    cached = quality.load_latest(out)
    # what the run wrote, nothing else (a staged part is summarised in staging, then linked under its name)
    assert summarised and {Path(part).name for _, part in summarised} <= {Path(p).name for p in current_parts(out) - before}
    assert {table for table, _ in summarised} >= {"articles", "mentions", "runs"}
    assert comparable(cached) == comparable(fresh(settings, cached["run_id"], today=dt.date.fromisoformat(cached["generated_at"][:10])))

    (raw / "s03.txt").unlink()  # a removed file, a changed one
    (raw / "s05.txt").write_text(story(40, year=2022), encoding="utf-8")
    result = run_local(settings)
    cached = quality.load_latest(out)
    assert result["rows"]["articles"] == 11 and cached["row_counts"]["articles"] == 11
    assert comparable(cached) == comparable(fresh(settings, cached["run_id"], today=dt.date.fromisoformat(cached["generated_at"][:10])))


def test_a_cached_part_is_checked_against_the_current_tables_it_refers_to(tmp_path, summarised):
    tables = healthy_tables()
    store = write_tables(tmp_path / "out", tables)
    settings = Settings(raw_dir=tmp_path, out_dir=tmp_path / "out")
    first = quality.build_report(settings, last_run_id(tables), today=TODAY)
    assert first["verdict"] == "passed"
    gone = tables["mentions"]["entity_id"].iloc[0]
    summarised.clear()
    store.commit("entities", replace={"entities": tables["entities"][tables["entities"]["entity_id"] != gone]})
    report = quality.build_report(settings, last_run_id(tables), today=TODAY)
    assert {table for table, _ in summarised} == {"entities"}  # the mentions' summaries were cached
    check = next(c for c in report["checks"] if c["name"] == "references.mentions")
    assert not check["passed"] and f"entity_id not in entities (e.g. {gone})" in check["message"]
    assert comparable(report) == comparable(fresh(settings, last_run_id(tables), today=TODAY))


def test_event_parts_rewritten_for_renamed_clusters_keep_their_summaries(tmp_path, summarised):
    tables = healthy_tables()
    store = write_tables(tmp_path / "out", tables)
    settings = Settings(raw_dir=tmp_path, out_dir=tmp_path / "out")
    quality.build_report(settings, last_run_id(tables), today=TODAY)
    events = tables["events"]["event_id"]
    summarised.clear()
    tx = store.transaction("renames")  # what a commit does when new reports rename clusters
    tx.apply_staged(update={"events": ("event_id", "cluster_id", {events.iloc[0]: "clu-renamed", events.iloc[3]: "clu-renamed"})})
    tx.publish()
    assert store.read("events").set_index("event_id").loc[events.iloc[3], "cluster_id"] == "clu-renamed"
    report = quality.build_report(settings, last_run_id(tables), today=TODAY)
    assert summarised == []  # the rewritten part took the summary of the part it was made from
    assert comparable(report) == comparable(fresh(settings, last_run_id(tables), today=TODAY))

    tx = store.transaction("statuses")  # a column the checks read: the part is summarised again
    tx.apply_staged(update={"events": ("event_id", "status", {events.iloc[0]: "proposed"})})
    tx.publish()
    summarised.clear()  # fresh() above summarised everything
    report = quality.build_report(settings, last_run_id(tables), today=TODAY)
    assert [table for table, _ in summarised] == ["events"]
    assert comparable(report) == comparable(fresh(settings, last_run_id(tables), today=TODAY))


def test_duplicates_across_a_cached_and_a_new_part_are_found(tmp_path):
    tables = healthy_tables()
    store = write_tables(tmp_path / "out", tables)
    settings = Settings(raw_dir=tmp_path, out_dir=tmp_path / "out")
    quality.build_report(settings, last_run_id(tables), today=TODAY)
    again = tables["event_participants"].iloc[[2]]
    store.stage("extra", "event_participants", "extra", again)
    store.commit("extra")
    report = quality.build_report(settings, last_run_id(tables), today=TODAY)
    check = next(c for c in report["checks"] if c["name"] == "duplicates.event_participants")
    assert not check["passed"] and check["value"] == 1 and check["message"] == "1 duplicated event_id/entity_id/role over 2 rows"
    assert comparable(report) == comparable(fresh(settings, last_run_id(tables), today=TODAY))


def test_damaged_misplaced_and_half_written_cache_files_are_ignored(tmp_path, summarised):
    tables = healthy_tables()
    write_tables(tmp_path / "out", tables)
    settings = Settings(raw_dir=tmp_path, out_dir=tmp_path / "out")
    expected = comparable(quality.build_report(settings, last_run_id(tables), today=TODAY))
    cache = tmp_path / "out" / "_store" / quality_parts.CACHE_DIR
    events, mentions = sorted((cache / "events").iterdir())[0], sorted((cache / "mentions").iterdir())[0]
    events.write_bytes(b"not a summary")  # damaged (a disk fault)
    shutil.copy(cache / "articles" / next((cache / "articles").iterdir()).name, mentions)  # another part's summary
    (cache / "runs" / ".leftover.npz.1234abcd.tmp").write_bytes(b"half")  # a report killed while writing
    summarised.clear()
    report = quality.build_report(settings, last_run_id(tables), today=TODAY)
    assert comparable(report) == expected
    assert sorted(table for table, _ in summarised) == ["events", "mentions"]
    assert not list(cache.glob("*/.*.tmp"))
    summarised.clear()
    quality.build_report(settings, last_run_id(tables), today=TODAY)
    assert summarised == []  # both rewritten whole


def test_an_edited_part_is_summarised_again(tmp_path, summarised):
    tables = healthy_tables()
    write_tables(tmp_path / "out", tables)
    settings = Settings(raw_dir=tmp_path, out_dir=tmp_path / "out")
    quality.build_report(settings, last_run_id(tables), today=TODAY)
    part = Store(tmp_path / "out").parts("articles")[0]  # edited in place, behind the pipeline's back
    articles = pd.read_parquet(part)
    articles.loc[0, "title"] = None
    articles.to_parquet(part, index=False)
    summarised.clear()
    report = quality.build_report(settings, last_run_id(tables), today=TODAY)
    assert summarised == [("articles", str(part))]
    assert next(c for c in report["checks"] if c["name"] == "null_rate.title")["n_offending"] == 1
    assert comparable(report) == comparable(fresh(settings, last_run_id(tables), today=TODAY))


def test_counts_and_sample_ids_combine_over_parts_in_table_order(tmp_path):
    """Nulls and out-of-range dates in a stored part and in a new one: counted over both, sampled
    as the table reads (first the stored part's rows, then the new part's)."""
    tables = healthy_tables()
    articles, events = tables["articles"], tables["events"]
    articles.loc[articles.index[:3], "title"] = None
    store = write_tables(tmp_path / "out", tables)
    settings = Settings(raw_dir=tmp_path, out_dir=tmp_path / "out")
    quality.build_report(settings, last_run_id(tables), today=TODAY)

    more = healthy_tables(n_articles=34, seed=8).get("articles").iloc[30:].copy()  # four new articles
    more["title"] = None
    late = events.iloc[:2].assign(event_id=["evt-late-0", "evt-late-1"], event_date=[dt.date(2030, 1, 1)] * 2, status=["occurred", "planned"])
    store.stage("more", "articles", "more", more)
    store.stage("more", "events", "more", late)
    store.commit("more")
    report = quality.build_report(settings, last_run_id(tables), today=TODAY)
    title = next(c for c in report["checks"] if c["name"] == "null_rate.title")
    assert title["n_offending"] == 7 and title["message"] == "7 of 34 article titles are null"
    assert title["sample_ids"] == sorted(articles["article_id"].iloc[:3]) + sorted(more["article_id"])[:2]  # parts hold rows by id
    future = next(c for c in report["checks"] if c["name"] == "dates.future")
    assert future["n_offending"] == 1 and future["sample_ids"] == ["evt-late-0"]  # the planned one is no error
    assert report["stats"]["events_by_period"] == comparable(fresh(settings, last_run_id(tables), today=TODAY))["stats"]["events_by_period"]
    assert sum(report["stats"]["articles_by_period"].values()) == 34


def test_summaries_removed_during_a_report_are_read_from_the_parts(tmp_path, monkeypatch):
    """Another report pruning the cache meanwhile (a reader of an older snapshot) costs time, not the result."""
    tables = healthy_tables()
    store = write_tables(tmp_path / "out", tables)
    store.stage("extra", "mentions", "extra", tables["mentions"].iloc[[4]])
    store.commit("extra")
    settings = Settings(raw_dir=tmp_path, out_dir=tmp_path / "out")
    expected = comparable(quality.build_report(settings, last_run_id(tables), today=TODAY))
    assert next(c for c in expected["checks"] if c["name"] == "duplicates.mentions")["value"] == 1
    monkeypatch.setattr(quality_parts.PartCache, "prune", lambda self: shutil.rmtree(self.root))
    assert comparable(quality.build_report(settings, last_run_id(tables), today=TODAY)) == expected


def test_parts_summarised_as_they_are_staged_are_what_the_report_uses(tmp_path, summarised):
    raw, out = tmp_path / "raw", tmp_path / "out"
    raw.mkdir()
    for i in range(9):
        (raw / f"s{i:02d}.txt").write_text(story(i), encoding="utf-8")
    (raw / "blank.txt").write_text(" ")  # quarantined at ingest
    settings = Settings(raw_dir=raw, out_dir=out, batch_size=3)
    store = Store(out)
    with store.lock():
        plan, _ = pipeline.run_steps(settings, store)  # the flow's steps, without the report
    staged = {table for table, _ in summarised}
    assert staged == {"articles", "mentions", "events", "event_participants", "relationships", "quarantine"}
    summarised.clear()
    report = quality.build_report(settings, plan.run_id, today=TODAY)
    # the report made only the summaries of the tables the commit wrote itself; the staged events parts,
    # given their clusters by the commit, kept the summaries made as they were staged
    assert {table for table, _ in summarised} == {"entities", "runs"}
    assert comparable(report) == comparable(fresh(settings, plan.run_id, today=TODAY))

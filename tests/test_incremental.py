"""Incremental runs equal a full run over the same raw folder; unchanged input changes nothing.

The extractors are exercised twice: with the project's own, and with a small country-spotting
extractor written here, so that entity merging and cross-article event clusters always have rows to
get wrong (a new article joins a stored cluster, a removed one leaves it).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coop_pipeline import entities, event_clusters, events, incremental
from coop_pipeline.config import Settings
from coop_pipeline.pipeline import run_local
from coop_pipeline.schemas import PRIMARY_KEYS, empty_frame
from coop_pipeline.store import ALL_TABLES, SORT_KEYS, Store

VOLATILE = {"ingested_at", "run_id", "at", "stat_signature"}  # differ between any two runs by design
COUNTRIES = {"Kazakhstan": "KAZ", "Kenya": "KEN", "France": "FRA", "Russia": "RUS", "China": "CHN", "India": "IND"}
PAST = 1_600_000_000  # an mtime well outside the "modified just now" window


def story(i: int, a: str, b: str, day: int, extra: str = "") -> str:
    return (
        f"{day:02d}.03.2024, 10:{i % 60:02d} {100 + i}\n\n{a} and {b} discuss space cooperation\n\n"
        f"Officials of {a} met their colleagues from {b} in Astana on Tuesday to discuss satellite data "
        f"sharing and the training of engineers, the press service reported in statement number {i}.\n\n"
        f"The delegations of {a} and {b} agreed to continue the consultations next year. {extra}\n"
    )


def toy_entities(articles: pd.DataFrame, resources) -> dict[str, pd.DataFrame]:
    mentions, observations = [], []
    for art in articles.itertuples(index=False):
        seen = set()
        for m in re.finditer("|".join(COUNTRIES), art.text):
            iso = COUNTRIES[m.group()]
            mentions.append({"mention_id": f"{art.article_id}:{m.start()}-{m.end()}", "article_id": art.article_id, "entity_id": f"country:{iso}",
                             "text": m.group(), "start": m.start(), "end": m.end(), "sentence_index": 0})
            if iso not in seen:
                seen.add(iso)
                observations.append({"article_id": art.article_id, "entity_id": f"country:{iso}", "name": m.group(), "entity_type": "COUNTRY",
                                     "country_iso3": iso, "aliases": [m.group().upper()], "latitude": None, "longitude": None})
    return {"mentions": pd.DataFrame(mentions), "entity_observations": pd.DataFrame(observations)}


def toy_events(articles: pd.DataFrame, found: dict, resources) -> dict[str, pd.DataFrame]:
    rows, participants = [], []
    for art in articles.itertuples(index=False):
        isos = list(dict.fromkeys(COUNTRIES[m] for m in re.findall("|".join(COUNTRIES), art.text)))
        if len(isos) < 2:
            continue
        event_id = "ev-" + art.article_id[4:]
        rows.append({"event_id": event_id, "article_id": art.article_id, "event_type": "CONSULT", "cameo_code": "040", "plover_type": "CONSULT",
                     "cluster_id": event_id, "status": "occurred", "negated": False, "source_entity_id": f"country:{isos[0]}",
                     "target_entity_id": f"country:{isos[1]}", "source_country": isos[0], "target_country": isos[1], "location_entity_id": None,
                     "event_date": art.published_date, "date_precision": "day", "date_basis": "publication", "sectors": ["space"],
                     "trigger": "met", "sentence": art.text[:40], "start": 0, "end": 40, "confidence": 0.5})
        participants += [{"event_id": event_id, "entity_id": f"country:{iso}", "role": role, "article_id": art.article_id} for iso, role in zip(isos, ("source", "target"))]
    return {"events": pd.DataFrame(rows), "event_participants": pd.DataFrame(participants)}


def toy_clusters(frame: pd.DataFrame) -> pd.DataFrame:
    """Same type and pair of countries, dates chained at most CLUSTER_DAYS apart: one cluster, named
    after its smallest event id (single linkage, unlike the real anchor rule, but with the locality
    that incremental runs rely on: a cluster never spans a wider gap between consecutive dates)."""
    frame = frame.copy()
    pair = frame.apply(lambda r: f"{r['event_type']}#" + "#".join(sorted([r["source_country"], r["target_country"]])), axis=1)
    day = pd.to_datetime(frame["event_date"])
    order = frame.assign(_pair=pair, _day=day).sort_values(["_pair", "_day"])
    gap = (order["_pair"] != order["_pair"].shift()) | ((order["_day"] - order["_day"].shift()).dt.days > event_clusters.CLUSTER_DAYS)
    first = order.groupby(gap.cumsum())["event_id"].transform("min")
    frame["cluster_id"] = "cl-" + first.reindex(frame.index)
    return frame


@pytest.fixture(params=["project", "toy"])
def extractors(request, monkeypatch):
    if request.param == "toy":
        monkeypatch.setattr(entities, "extract", toy_entities)
        monkeypatch.setattr(events, "extract", toy_events)
        monkeypatch.setattr(events, "assign_clusters", toy_clusters)
    return request.param


def snapshot(out: Path) -> dict[str, pd.DataFrame]:
    """Every table but `runs`, without run-specific columns, rows sorted by their keys."""
    store = Store(out)
    tables = {}
    for table in ALL_TABLES:
        if table == "runs":
            continue
        frame = store.read(table)
        frame = frame.drop(columns=[c for c in VOLATILE if c in frame.columns])
        keys = list(dict.fromkeys([*SORT_KEYS.get(table, []), *([PRIMARY_KEYS[table]] if table in PRIMARY_KEYS else [])]))
        if table == "quarantine":
            keys.append("detail")
        tables[table] = frame.sort_values(keys, kind="mergesort").reset_index(drop=True)
    return tables


def assert_same(left: dict, right: dict) -> None:
    for table in left:
        pd.testing.assert_frame_equal(left[table], right[table], obj=table)


def full_run_of(raw: Path, tmp_path: Path, name: str) -> dict[str, pd.DataFrame]:
    out = tmp_path / name
    run_local(Settings(raw_dir=raw, out_dir=out, full=True))
    return snapshot(out)


def test_incremental_runs_equal_a_full_run(extractors, tmp_path):
    raw = tmp_path / "raw"
    (raw / "desk").mkdir(parents=True)
    pairs = [("Kazakhstan", "Kenya"), ("Kazakhstan", "France"), ("Russia", "Kazakhstan"), ("China", "Kazakhstan"), ("Kazakhstan", "Kenya")]
    for i, (a, b) in enumerate(pairs):
        (raw / "desk" / f"story-{i}.txt").write_text(story(i, a, b, 10 + i), encoding="utf-8")
    shutil.copy(raw / "desk" / "story-1.txt", raw / "desk" / "story-1-copy.txt")
    (raw / "desk" / "empty.txt").write_text("  ")
    settings = Settings(raw_dir=raw, out_dir=tmp_path / "out")
    run_local(settings)
    assert_same(snapshot(settings.out_dir), full_run_of(raw, tmp_path, "full-1"))

    # New, changed, removed files; a copy of a stored article under an earlier name takes over;
    # a new article joins the stored Kazakhstan-Kenya cluster; a bad file is fixed.
    (raw / "desk" / "story-5.txt").write_text(story(5, "Kenya", "Kazakhstan", 11), encoding="utf-8")
    (raw / "desk" / "story-2.txt").write_text(story(2, "Russia", "Kazakhstan", 12, "Russia also praised the launch."), encoding="utf-8")
    (raw / "desk" / "story-3.txt").unlink()
    shutil.copy(raw / "desk" / "story-4.txt", raw / "desk" / "a-first-copy.txt")
    (raw / "desk" / "empty.txt").write_text(story(6, "India", "Kazakhstan", 20), encoding="utf-8")
    run_local(settings)
    assert_same(snapshot(settings.out_dir), full_run_of(raw, tmp_path, "full-2"))
    articles = Store(settings.out_dir).read("articles").set_index("article_id")
    assert "desk/a-first-copy.txt" in set(articles["source_path"])

    # The first path of an article disappears; a duplicate path disappears; the cluster loses a member.
    (raw / "desk" / "a-first-copy.txt").unlink()
    (raw / "desk" / "story-1-copy.txt").unlink()
    (raw / "desk" / "story-0.txt").unlink()
    run_local(settings)
    assert_same(snapshot(settings.out_dir), full_run_of(raw, tmp_path, "full-3"))
    if extractors == "toy":
        ev = Store(settings.out_dir).read("events")
        assert ev["cluster_id"].nunique() < len(ev)  # stories 4 and 5: one real Kazakhstan-Kenya meeting

    # --full over the existing output replaces every stored row: the same tables as on a fresh output.
    run_local(Settings(raw_dir=raw, out_dir=settings.out_dir, full=True))
    assert_same(snapshot(settings.out_dir), full_run_of(raw, tmp_path, "full-4"))


def test_unchanged_input_changes_no_table_and_reads_no_file(extractors, tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    raw.mkdir()
    for i, (a, b) in enumerate([("Kazakhstan", "Kenya"), ("France", "Kazakhstan"), ("Kazakhstan", "Kenya")]):
        (raw / f"{i}.txt").write_text(story(i, a, b, 3 + i), encoding="utf-8")
    for path in raw.iterdir():
        os.utime(path, (PAST, PAST))
    settings = Settings(raw_dir=raw, out_dir=tmp_path / "out")
    run_local(settings)
    store = Store(settings.out_dir)
    versions = {t: store.current_version(t) for t in ALL_TABLES}
    before = snapshot(settings.out_dir)
    hashed = []
    real_digest = incremental.file_digest
    monkeypatch.setattr(incremental, "file_digest", lambda path: hashed.append(path) or real_digest(path))

    run_local(settings)
    assert hashed == []  # size, mtime, ctime and inode vouch for every file: none is read
    assert {t: store.current_version(t) for t in ALL_TABLES if t != "runs"} == {t: v for t, v in versions.items() if t != "runs"}
    assert_same(snapshot(settings.out_dir), before)
    runs = store.read("runs")
    assert len(runs) == 2 and runs.iloc[-1]["files_unchanged"] == 3 and runs.iloc[-1]["status"] == "completed"

    # Touched but not changed: read once to compare hashes, then only its `files` row is updated.
    os.utime(raw / "1.txt", (PAST + 60, PAST + 60))
    run_local(settings)
    assert [p.name for p in hashed] == ["1.txt"]
    changed = {t for t in ALL_TABLES if store.current_version(t) != versions[t]}
    assert changed == {"runs", "files"}
    assert_same(snapshot(settings.out_dir), before | {"files": snapshot(settings.out_dir)["files"]})
    hashed.clear()
    run_local(settings)
    assert hashed == []


def test_output_written_before_entity_tallies_is_taken_over(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    for i, (a, b) in enumerate([("Kazakhstan", "Kenya"), ("France", "Kazakhstan"), ("Kazakhstan", "Kenya")]):
        (raw / f"{i}.txt").write_text(story(i, a, b, 3 + i), encoding="utf-8")
    settings = Settings(raw_dir=raw, out_dir=tmp_path / "out")
    run_local(settings)
    store = Store(settings.out_dir)
    store.commit("old-layout", replace={"entity_tallies": empty_frame("entity_tallies")})  # as an older version left it
    (raw / "1.txt").unlink()
    (raw / "3.txt").write_text(story(3, "Russia", "Kazakhstan", 9), encoding="utf-8")
    run_local(settings)
    assert store.count("entity_tallies") > 0
    assert_same(snapshot(settings.out_dir), full_run_of(raw, tmp_path, "full"))


def test_only_the_date_segments_a_run_touches_are_clustered_again(monkeypatch, tmp_path):
    monkeypatch.setattr(entities, "extract", toy_entities)
    monkeypatch.setattr(events, "extract", toy_events)
    seen: list[set[str]] = []
    monkeypatch.setattr(events, "assign_clusters", lambda frame: seen.append(set(frame["article_id"])) or toy_clusters(frame))
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "march.txt").write_text(story(1, "Kazakhstan", "Kenya", 10), encoding="utf-8")
    (raw / "june.txt").write_text(story(2, "Kazakhstan", "Kenya", 10).replace(".03.2024", ".06.2024"), encoding="utf-8")
    settings = Settings(raw_dir=raw, out_dir=tmp_path / "out")
    run_local(settings)
    stored = Store(settings.out_dir).read("articles").set_index("source_path")["article_id"]
    seen.clear()
    (raw / "june-2.txt").write_text(story(3, "Kenya", "Kazakhstan", 8).replace(".03.2024", ".06.2024"), encoding="utf-8")
    run_local(settings)
    clustered = set().union(*seen)
    assert stored["june.txt"] in clustered  # two days before it: same segment, clustered again
    assert stored["march.txt"] not in clustered  # three months away: its cluster cannot change
    assert_same(snapshot(settings.out_dir), full_run_of(raw, tmp_path, "full"))
    june = Store(settings.out_dir).read("events").set_index("article_id")
    assert june.loc[stored["june.txt"], "cluster_id"] != june.loc[stored["march.txt"], "cluster_id"]


def test_chunks_of_rows_never_cut_a_group():
    starts = np.array([True, False, False, True, True, False, False, False, True, False])  # groups of 3, 1, 4, 2 rows
    chunks = incremental._chunks(starts, 4)
    assert [(c.start, c.stop) for c in chunks] == [(0, 4), (4, 8), (8, 10)]
    assert [(c.start, c.stop) for c in incremental._chunks(starts, 2)] == [(0, 3), (3, 4), (4, 8), (8, 10)]  # a longer group alone


def test_small_parts_that_lose_rows_are_written_as_one(monkeypatch, tmp_path):
    """The entities lose the touched entities' rows from their parts at every run and gain a part:
    the remnants a run rewrites go into one part, so the parts a later run rewrites stay few."""
    monkeypatch.setattr(entities, "extract", toy_entities)
    monkeypatch.setattr(events, "extract", toy_events)
    monkeypatch.setattr(events, "assign_clusters", toy_clusters)
    raw = tmp_path / "raw"
    raw.mkdir()
    settings = Settings(raw_dir=raw, out_dir=tmp_path / "out")
    runs = [[("Kazakhstan", "Kenya"), ("France", "Russia"), ("China", "India")], [("Kazakhstan", "France")],
            [("Kenya", "China")], [("Russia", "Kazakhstan")], [("India", "Kenya")]]
    story_no = 0
    for pairs in runs:
        for a, b in pairs:
            (raw / f"story-{story_no}.txt").write_text(story(story_no, a, b, 10 + story_no), encoding="utf-8")
            story_no += 1
        run_local(settings)
    # the fourth run rewrites {India} and {France}, the fifth {France, India} and {China}: one part each time
    store = Store(settings.out_dir)
    assert len(store.parts("entities")) == 3 and len(store.parts("entity_tallies")) == 3
    assert_same(snapshot(settings.out_dir), full_run_of(raw, tmp_path, "full"))

"""A small, filled, healthy dataset written through the real Store, for the quality tests.

Thirty articles about Kazakhstan's space cooperation, with entities, mentions, events, participants,
relationships, a few quarantined files and three earlier runs, all valid against the schemas.
Tests break one thing at a time in these frames and commit them to see the right check fail.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from pathlib import Path

import pandas as pd

from coop_pipeline.store import Store

COUNTRIES = [("KAZ", "Kazakhstan"), ("KEN", "Kenya"), ("FRA", "France"), ("RUS", "Russia"), ("CHN", "China"), ("ARE", "United Arab Emirates")]
PEOPLE = [("person:beibut-atamkulov", "Beibut Atamkulov", "KAZ"), ("person:hillary-kipkosgey", "Hillary Kipkosgey", "KEN"),
          ("person:philippe-martinez", "Philippe Martinez", "FRA"), ("person:talgat-musabayev", "Talgat Musabayev", "KAZ")]
ORGS = [("org:kazcosmos", "Kazcosmos", "KAZ"), ("org:kenya-space-agency", "Kenya Space Agency", "KEN"),
        ("org:cnes", "CNES", "FRA"), ("org:roscosmos", "Roscosmos", "RUS"), ("org:gharysh-sapary", "Kazakhstan Gharysh Sapary", "KAZ")]
PLACES = [("loc:astana", "Astana", "KAZ", 51.17, 71.45), ("loc:nairobi", "Nairobi", "KEN", -1.29, 36.82), ("fac:baikonur", "Baikonur Cosmodrome", "KAZ", 45.96, 63.31)]
CRAFT = [("craft:kazeosat-1", "KazEOSat-1", "KAZ"), ("craft:kazsat-3", "KazSat-3", "KAZ")]
TYPES = ["CONSULT", "CONSULT", "CONSULT", "VISIT", "SIGN_AGREEMENT", "SIGN_AGREEMENT", "AGREE", "EXPRESS_INTENT", "INVITE", "PRAISE", "COOPERATE", "LAUNCH", "ESTABLISH"]
STATUSES = ["occurred"] * 6 + ["planned"] * 2 + ["proposed", "ongoing"]
NOW = pd.Timestamp("2026-11-20T10:00:00Z")


def _art_id(i: int) -> str:
    return "art-" + hashlib.sha256(f"article {i}".encode()).hexdigest()[:16]


def healthy_tables(n_articles: int = 30, seed: int = 7) -> dict[str, pd.DataFrame]:
    """Every contract table (plus `files`) of a healthy dataset."""
    rnd = random.Random(seed)
    entities = [{"entity_id": f"country:{iso}", "name": name, "entity_type": "COUNTRY", "country_iso3": iso, "aliases": [], "latitude": None, "longitude": None} for iso, name in COUNTRIES]
    entities += [{"entity_id": e, "name": n, "entity_type": "PERSON", "country_iso3": c, "aliases": [n.split()[-1]], "latitude": None, "longitude": None} for e, n, c in PEOPLE]
    entities += [{"entity_id": e, "name": n, "entity_type": "ORGANIZATION", "country_iso3": c, "aliases": [], "latitude": None, "longitude": None} for e, n, c in ORGS]
    entities += [{"entity_id": e, "name": n, "entity_type": "FACILITY" if e.startswith("fac") else "LOCATION", "country_iso3": c, "aliases": [], "latitude": la, "longitude": lo} for e, n, c, la, lo in PLACES]
    entities += [{"entity_id": e, "name": n, "entity_type": "SPACECRAFT", "country_iso3": c, "aliases": [], "latitude": None, "longitude": None} for e, n, c in CRAFT]
    country_of = {e["entity_id"]: e["country_iso3"] for e in entities}
    actors = [e["entity_id"] for e in entities if e["entity_type"] in ("COUNTRY", "PERSON", "ORGANIZATION")]
    places = [p[0] for p in PLACES]
    articles, files, mentions, events, participants, relations = [], [], [], [], [], []
    for i in range(n_articles):
        aid = _art_id(i)
        published = dt.date(2025, 1, 1) + dt.timedelta(days=rnd.randrange(0, 300))
        text = f"Article {i} about space cooperation between Kazakhstan and its partners. " * 4
        articles.append({
            "article_id": aid, "source_path": f"{i:03d}.txt", "duplicate_paths": [], "source_name": rnd.choice(["Kazinform", "Kazakhstan Today"]),
            "title": f"Space cooperation news {i}", "published_date": published, "date_source": "header", "dateline": "Astana",
            "language": "en", "encoding": "utf-8", "text": text, "n_chars": len(text), "n_sentences": 4,
            "content_sha256": hashlib.sha256(text.encode()).hexdigest(), "ingested_at": NOW, "pipeline_version": "0.1.0",
        })
        files.append({"source_path": f"{i:03d}.txt", "content_sha256": hashlib.sha256(text.encode()).hexdigest(), "size": len(text), "outcome": "article", "article_id": aid, "stat_signature": None})
        seen = rnd.sample(actors, 4) + [rnd.choice(places)]
        for k, eid in enumerate(seen):
            mentions.append({"mention_id": f"{aid}:{k * 10}-{k * 10 + 5}", "article_id": aid, "entity_id": eid, "text": eid.split(":")[1][:5],
                             "start": k * 10, "end": k * 10 + 5, "sentence_index": k % 4})
        for k in range(rnd.choice([1, 2, 2, 3])):
            src, tgt = rnd.sample(seen[:4], 2)
            etype = rnd.choice(TYPES)
            eid = f"evt-{aid[4:12]}-{k}"
            when = published - dt.timedelta(days=rnd.randrange(0, 20))
            events.append({
                "event_id": eid, "article_id": aid, "event_type": etype, "cameo_code": "040", "plover_type": "CONSULT", "cluster_id": eid,
                "status": rnd.choice(STATUSES), "negated": False, "source_entity_id": src, "target_entity_id": tgt,
                "source_country": country_of[src], "target_country": country_of[tgt], "location_entity_id": seen[4],
                "event_date": when, "date_precision": "day", "date_basis": "explicit", "sectors": ["space"], "trigger": "met",
                "sentence": "They met.", "start": 0, "end": 9, "confidence": 0.8,
            })
            participants += [{"event_id": eid, "entity_id": src, "role": "source", "article_id": aid}, {"event_id": eid, "entity_id": tgt, "role": "target", "article_id": aid}]
        person = rnd.choice(PEOPLE)
        relations.append({"relation_id": f"rel-{aid[4:12]}", "article_id": aid, "subject_entity_id": person[0], "predicate": "REPRESENTS",
                          "object_entity_id": f"country:{person[2]}", "qualifier": None, "sentence": "He represents.", "start": 0, "end": 14, "confidence": 0.9})
    quarantine = []
    for j, reason in enumerate(["empty", "binary", "not_article"]):
        path = f"bad-{j}.txt"
        files.append({"source_path": path, "content_sha256": "0" * 64, "size": 0, "outcome": "quarantined", "article_id": None, "stat_signature": None})
        quarantine.append({"source_path": path, "stage": "ingest", "reason": reason, "detail": "fixture", "table_name": None, "record_id": None, "run_id": "20261120T100000Z-aaaaaa", "at": NOW})
    counts = {e["entity_id"]: 0 for e in entities}
    arts = {e["entity_id"]: set() for e in entities}
    for m in mentions:
        counts[m["entity_id"]] += 1
        arts[m["entity_id"]].add(m["article_id"])
    for e in entities:
        e["n_mentions"], e["n_articles"] = counts[e["entity_id"]], len(arts[e["entity_id"]])
    tables = {
        "articles": pd.DataFrame(articles), "entities": pd.DataFrame(entities), "mentions": pd.DataFrame(mentions), "events": pd.DataFrame(events),
        "event_participants": pd.DataFrame(participants), "relationships": pd.DataFrame(relations), "quarantine": pd.DataFrame(quarantine), "files": pd.DataFrame(files),
    }
    tables["runs"] = runs_frame(tables)
    return tables


def runs_frame(tables: dict[str, pd.DataFrame], n_runs: int = 4) -> pd.DataFrame:
    """Earlier runs that grew towards the current tables, the last one being the current run."""
    rows = []
    for r in range(n_runs):
        share = (r + 1) / n_runs
        start = NOW - pd.Timedelta(hours=n_runs - 1 - r)
        written = {t: int(len(tables[t]) * share) for t in ("articles", "entities", "mentions", "events", "event_participants", "relationships", "quarantine")}
        rows.append({
            "run_id": start.strftime("%Y%m%dT%H%M%SZ") + f"-{r:06x}", "started_at": start, "finished_at": start + pd.Timedelta(seconds=30),
            "status": "completed", "mode": "incremental", "files_seen": int(len(tables["files"]) * share), "files_new": 8, "files_changed": 0,
            "files_unchanged": 0, "files_removed": 0, "rows_written": json.dumps(written, sort_keys=True), "quarantined": written["quarantine"],
            "pipeline_version": "0.1.0", "dictionaries_sha256": "{}", "flow_run_id": None, "error": None,
        })
    return pd.DataFrame(rows)


def write_tables(out: Path, tables: dict[str, pd.DataFrame]) -> Store:
    """Commit the frames as the tables' current versions, through the real Store (unvalidated, on
    purpose: the quality checks must find what a buggy stage could have written)."""
    store = Store(out)
    store.recover()
    store.commit("fixture", replace=tables)
    return store


def last_run_id(tables: dict[str, pd.DataFrame]) -> str:
    return str(tables["runs"]["run_id"].iloc[-1])


def with_warnings(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The healthy tables with three warning-level problems: missing titles, a future date, a 1950 date."""
    tables = {k: v.copy() for k, v in tables.items()}
    tables["articles"].loc[tables["articles"].index[:5], "title"] = None
    events = tables["events"]
    events.loc[events.index[0], ["event_date", "status"]] = [dt.date(2031, 5, 1), "occurred"]
    events.loc[events.index[1], "event_date"] = dt.date(1950, 3, 1)
    return tables

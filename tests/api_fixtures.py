"""A small, hand-written output directory with every table filled, for the API tests and doctests.

The rows are written through coop_pipeline.store with the real Arrow schemas and
validated against the pandera models first, so they are exactly what a run could produce.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

RUN_ID = "20250906T000000Z-fixtur"
AT = pd.Timestamp("2025-09-06 00:00:00", tz="UTC")
A1, A2, A3 = "art-" + "1" * 16, "art-" + "2" * 16, "art-" + "3" * 16
SADYKOV, MINISTRY, KSA = "person:barlybay-sadykov", "org:ministry-of-digital-development", "org:kenya-space-agency"


def _article(article_id: str, path: str, publisher: str | None, title: str, date: dt.date | None, date_source: str, dateline: str | None, text: str) -> dict:
    return {
        "article_id": article_id, "source_path": path, "duplicate_paths": [], "source_name": publisher, "title": title,
        "published_date": date, "date_source": date_source, "dateline": dateline, "language": "en", "encoding": "utf-8",
        "text": text, "n_chars": len(text), "n_sentences": text.count(". ") + 1, "content_sha256": article_id[-1] * 64,
        "ingested_at": AT, "pipeline_version": "0.1.0",
    }


def _entity(entity_id: str, name: str, entity_type: str, iso3: str | None, aliases: list[str], lat=None, lon=None, n=1) -> dict:
    return {"entity_id": entity_id, "name": name, "entity_type": entity_type, "country_iso3": iso3, "aliases": aliases,
            "latitude": lat, "longitude": lon, "n_mentions": n, "n_articles": 1}


def _event(event_id, article_id, event_type, status, source, target, src_c, tgt_c, date=None, location=None, negated=False, sectors=("space",)) -> dict:
    return {
        "event_id": event_id, "article_id": article_id, "event_type": event_type, "cameo_code": None, "plover_type": None,
        "cluster_id": event_id, "status": status, "negated": negated, "source_entity_id": source, "target_entity_id": target,
        "source_country": src_c, "target_country": tgt_c, "location_entity_id": location, "event_date": date,
        "date_precision": "day" if date else None, "date_basis": "explicit" if date else None, "sectors": list(sectors),
        "trigger": event_type.lower(), "sentence": f"{event_type} sentence.", "start": int(event_id[-1]) * 10,
        "end": int(event_id[-1]) * 10 + 9, "confidence": 0.8,
    }


def demo_tables() -> dict[str, pd.DataFrame]:
    """Three articles (one without a date) and what the extractors could find in them."""
    articles = [
        _article(A1, "002_kazinform.txt", "Kazinform", "Kazakhstan and France sign space agreement", dt.date(2017, 9, 11), "dateline", "Astana",
                 "Kazakhstan and France signed an agreement on space cooperation."),
        _article(A2, "000_kt.txt", "Kazakhstan Today", "Kazakhstan and Kenya discuss space cooperation", dt.date(2025, 9, 5), "header", None,
                 "Minister Barlybay Sadykov met the Kenya Space Agency in Nairobi. The sides signed a memorandum."),
        _article(A3, "undated.html", None, "Minister to visit Kenya", None, "none", None,
                 "Minister of Digital Development Barlybay Sadykov will visit Kenya. Kazakhstan did not supply a satellite."),
    ]
    entities = [
        _entity("country:FRA", "France", "COUNTRY", "FRA", ["France", "French Republic"]),
        _entity("country:KAZ", "Kazakhstan", "COUNTRY", "KAZ", ["Kazakh side"], n=4),
        _entity("country:KEN", "Kenya", "COUNTRY", "KEN", [], n=2),
        _entity("location:nairobi", "Nairobi", "LOCATION", "KEN", [], -1.28333, 36.81667),
        _entity(MINISTRY, "Ministry of Digital Development of Kazakhstan", "ORGANIZATION", "KAZ", ["MDDIAI"]),
        _entity(KSA, "Kenya Space Agency", "ORGANIZATION", "KEN", ["KSA"]),
        _entity(SADYKOV, "Barlybay Sadykov", "PERSON", "KAZ", ["Sadykov", "the Minister"], n=2),
    ]
    mentions = [
        {"mention_id": f"{A2}:9-25", "article_id": A2, "entity_id": SADYKOV, "text": "Barlybay Sadykov", "start": 9, "end": 25, "sentence_index": 0},
        {"mention_id": f"{A2}:34-52", "article_id": A2, "entity_id": KSA, "text": "Kenya Space Agency", "start": 34, "end": 52, "sentence_index": 0},
        {"mention_id": f"{A3}:43-59", "article_id": A3, "entity_id": SADYKOV, "text": "Barlybay Sadykov", "start": 43, "end": 59, "sentence_index": 0},
    ]
    events = [
        _event("evt-1", A1, "SIGN_AGREEMENT", "occurred", "country:KAZ", "country:FRA", "KAZ", "FRA", dt.date(2017, 9, 11)),
        _event("evt-2", A2, "CONSULT", "occurred", SADYKOV, KSA, "KAZ", "KEN", location="location:nairobi"),
        _event("evt-3", A2, "SIGN_AGREEMENT", "occurred", "country:KAZ", "country:KEN", "KAZ", "KEN", dt.date(2025, 9, 4), "location:nairobi"),
        _event("evt-4", A3, "VISIT", "planned", SADYKOV, "country:KEN", "KAZ", "KEN"),
        _event("evt-5", A3, "COOPERATE", "occurred", "country:KAZ", None, "KAZ", None, negated=True),
    ]
    participants = []
    for e in events:
        for role, key in (("source", "source_entity_id"), ("target", "target_entity_id")):
            if e[key]:
                participants.append({"event_id": e["event_id"], "entity_id": e[key], "role": role, "article_id": e["article_id"]})
    rel = lambda rid, art, s, p, o, q: {"relation_id": rid, "article_id": art, "subject_entity_id": s, "predicate": p, "object_entity_id": o,
                                        "qualifier": q, "sentence": "evidence.", "start": 0, "end": 9, "confidence": 0.9}
    relationships = [
        rel("rel-1", A2, SADYKOV, "HOLDS_POSITION", MINISTRY, "Minister"),
        rel("rel-2", A3, SADYKOV, "HOLDS_POSITION", MINISTRY, "Minister"),
        rel("rel-3", A2, KSA, "PART_OF", "country:KEN", None),
        rel("rel-4", A1, "country:KAZ", "COOPERATES_WITH", "country:FRA", "space"),
    ]
    quarantine = [{"source_path": "empty.txt", "stage": "ingest", "reason": "empty", "detail": "no text after cleaning",
                   "table_name": None, "record_id": None, "run_id": RUN_ID, "at": AT}]
    runs = [{"run_id": RUN_ID, "started_at": AT, "finished_at": AT + pd.Timedelta(seconds=3), "status": "completed", "mode": "full",
             "files_seen": 4, "files_new": 4, "files_changed": 0, "files_unchanged": 0, "files_removed": 0,
             "rows_written": '{"articles": 3}', "quarantined": 1, "pipeline_version": "0.1.0", "dictionaries_sha256": "{}",
             "flow_run_id": None, "error": None}]
    files = [{"source_path": a["source_path"], "content_sha256": a["content_sha256"], "size": 100, "outcome": "article", "article_id": a["article_id"]} for a in articles]
    files.append({"source_path": "empty.txt", "content_sha256": "0" * 64, "size": 0, "outcome": "quarantined", "article_id": None})
    observations = [{k: e[k] for k in ("entity_id", "name", "entity_type", "country_iso3", "aliases", "latitude", "longitude")} | {"article_id": A2} for e in entities]
    return {name: pd.DataFrame(rows) for name, rows in {
        "articles": articles, "entities": entities, "mentions": mentions, "events": events, "event_participants": participants,
        "relationships": relationships, "quarantine": quarantine, "runs": runs, "files": files, "entity_observations": observations,
    }.items()}


def write_output(out: Path, tables: dict[str, pd.DataFrame] | None = None) -> Path:
    """Write `tables` (default: demo_tables()) as a committed output directory; every other table empty."""
    from coop_pipeline.store import Store
    from coop_pipeline.validate import validate_table

    store = Store(out)
    store.recover()  # every table exists, empty
    replace = {}
    for name, frame in (demo_tables() if tables is None else tables).items():
        valid, rejected = validate_table(name, frame, RUN_ID)
        assert not rejected, f"fixture table {name} is invalid: {rejected}"
        replace[name] = valid
    store.commit(RUN_ID, replace=replace)
    return out

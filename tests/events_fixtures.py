"""Builds the inputs of the events stage from a case file: an article row and the mentions the
entities stage would give for the case's named entities (found by exact name or alias)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pandas as pd

CASES = Path(__file__).parent / "cases" / "events"


def entity_id(entity: dict) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", entity["name"].lower()).strip("-")
    return f"{entity['type'].lower()}:{slug}"


def article_frame(article_id: str, text: str, published: str | None, dateline: str | None = None) -> pd.DataFrame:
    return pd.DataFrame([{
        "article_id": article_id, "source_path": f"{article_id}.txt", "text": text,
        "published_date": dt.date.fromisoformat(published) if published else None, "dateline": dateline,
    }])


def entity_frames(article_id: str, text: str, entities: list[dict]) -> dict[str, pd.DataFrame]:
    """Mentions (longest names first, never overlapping) and entity observations of one article."""
    names = sorted(((n, e) for e in entities for n in [e["name"], *e.get("aliases", [])]), key=lambda ne: -len(ne[0]))
    mentions: list[dict] = []
    for name, e in names:
        for m in re.finditer(r"(?<!\w)" + re.escape(name) + r"(?!\w)", text):
            if any(x["start"] < m.end() and m.start() < x["end"] for x in mentions):
                continue
            mentions.append({"mention_id": f"{article_id}:{m.start()}", "article_id": article_id, "entity_id": entity_id(e),
                             "text": m.group(), "start": m.start(), "end": m.end(), "sentence_index": 0})
    observations = [{"article_id": article_id, "entity_id": entity_id(e), "name": e["name"], "entity_type": e["type"],
                     "country_iso3": e["country"], "aliases": list(e.get("aliases", [])), "latitude": None, "longitude": None}
                    for e in entities]
    return {"mentions": pd.DataFrame(sorted(mentions, key=lambda m: m["start"])), "entity_observations": pd.DataFrame(observations)}


def load_case(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def case_inputs(case: dict, article_id: str = "art-0000000000000001") -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    return (article_frame(article_id, case["text"], case.get("published_date"), case.get("dateline")),
            entity_frames(article_id, case["text"], case["entities"]))


def party_countries(events: pd.DataFrame, participants: pd.DataFrame, entities: dict[str, pd.DataFrame]) -> dict[str, set[str]]:
    """Countries of each event's parties: its source and target countries and its participants'."""
    country = dict(zip(entities["entity_observations"]["entity_id"], entities["entity_observations"]["country_iso3"]))
    out = {e.event_id: {c for c in (e.source_country, e.target_country) if isinstance(c, str)} for e in events.itertuples()}
    for p in participants.itertuples():
        c = country.get(p.entity_id)
        if isinstance(c, str):
            out[p.event_id].add(c)
    return out

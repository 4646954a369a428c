"""Extraction of a batch of articles: entities, then relations and events that build on them.

One article whose extraction raises is quarantined (stage `extract`) and the batch goes on.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from coop_pipeline import entities, events, relations
from coop_pipeline.event_lexicon import EventResources
from coop_pipeline.gazetteer import EntityResources
from coop_pipeline.relations import RelationResources
from coop_pipeline.ingest import quarantine_row

OUTPUT_TABLES = ("mentions", "entity_observations", "relationships", "events", "event_participants")


@dataclass(frozen=True)
class Resources:
    """Dictionaries and compiled patterns for extraction, loaded once and shared by all batches."""

    entities: EntityResources | None = None
    relations: RelationResources | None = None
    events: EventResources | None = None

    @classmethod
    def load(cls) -> "Resources":
        return cls(entities=EntityResources.load(), relations=RelationResources.load(), events=EventResources.load())


def extract_article(article: pd.DataFrame, resources: Resources) -> dict[str, pd.DataFrame]:
    """All records of one or more articles (a one-row frame for the per-article fallback)."""
    found = entities.extract(article, resources)
    out = dict(found)
    out["relationships"] = relations.extract(article, found, resources)
    out.update(events.extract(article, found, resources))
    for table in OUTPUT_TABLES:  # a malformed result is the extractor's error, caught per article below
        if not isinstance(out.get(table), pd.DataFrame):
            raise TypeError(f"the extractors returned {type(out.get(table)).__name__} for {table}, not a DataFrame")
    return out


def extract_batch(articles: pd.DataFrame, resources: Resources, run_id: str) -> tuple[dict[str, pd.DataFrame], list[dict]]:
    """Records of a batch; an article whose extraction fails is quarantined, the others kept."""
    try:
        return extract_article(articles, resources), []
    except Exception:  # find the article at fault, keep everyone else's records
        pass
    parts: dict[str, list[pd.DataFrame]] = {t: [] for t in OUTPUT_TABLES}
    quarantine = []
    now = pd.Timestamp.now(tz="UTC")
    for i in range(len(articles)):
        one = articles.iloc[[i]]
        try:
            records = extract_article(one, resources)
        except Exception as exc:
            quarantine.append(quarantine_row(str(one["source_path"].iloc[0]), "extract", "extractor_error", f"{type(exc).__name__}: {exc}", run_id, now))
            continue
        for table in OUTPUT_TABLES:
            parts[table].append(records[table])
    return {t: pd.concat(frames, ignore_index=True) if frames else pd.DataFrame() for t, frames in parts.items()}, quarantine

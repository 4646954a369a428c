"""Entities stage: people, organizations, countries, places, facilities, spacecraft and named events.

`extract(articles, resources)` returns mentions and per-article entity observations (plus
`entity_facts`, the positions and links the relations stage turns into relationships);
`merge(observations, mentions)` folds observations into one row per real-world entity.
The per-article analysis lives in `names.py`; this module turns it into rows, one frame per batch.
"""

from __future__ import annotations

from bisect import bisect_right
from functools import lru_cache

import pandas as pd
import pyarrow as pa

from coop_pipeline import entity_tallies
from coop_pipeline.names import ArticleNames
from coop_pipeline.page import find_dateline
from coop_pipeline.schemas import arrow_schema
from coop_pipeline.schemas import columns as _columns
from coop_pipeline.schemas import empty_frame
from coop_pipeline.text import sentence_spans

FACT_COLUMNS = ["article_id", "predicate", "subject_entity_id", "object_entity_id", "qualifier", "start", "end", "confidence"]


@lru_cache(maxsize=None)
def columns(table: str) -> list[str]:
    """Contract column order (building the pandera schema is slow; it never changes in a process)."""
    return _columns(table)


def dateline_span(text: str, dateline: str | None, resources=None) -> tuple[int, int]:
    """Offsets of the dateline prefix ("ASTANA. KAZINFORM -", "BAKU, Azerbaijan, May 15."): metadata,
    not a mention of the place. Found where the page parser put it, or else in the first lines when it
    opens with a known place in a dateline's shape."""
    offset = 0
    for n, line in enumerate(text.split("\n")):
        if n > 16:  # page furniture may come first; blank lines count
            break
        place, end = find_dateline(line)
        if place and end:
            if dateline and place.lower() == dateline.lower():
                return (offset, offset + end)
            if not dateline and resources is not None:
                form = resources.forms.get(place) or resources.forms.get(line[: len(place)])
                if form is not None and form.entry.entity_type in ("LOCATION", "COUNTRY"):
                    return (offset, offset + end)
        offset += len(line) + 1
    return (0, 0)


def analyse(text: str, resources, dateline: str | None = None, publisher: str | None = None) -> ArticleNames:
    """The entity analysis of one article text."""
    return ArticleNames(text, resources, dateline_span(text, dateline, resources), publisher if isinstance(publisher, str) else None)


def extract(articles: pd.DataFrame, resources: object) -> dict[str, pd.DataFrame]:
    """Mentions, entity observations and entity facts of a batch of articles."""
    res = resources.entities
    mentions, observations, facts = [], [], []
    ids = articles["article_id"].tolist()
    texts = articles["text"].tolist()
    datelines = articles["dateline"].tolist() if "dateline" in articles else [None] * len(ids)
    publishers = articles["source_name"].tolist() if "source_name" in articles else [None] * len(ids)
    for article_id, text, dateline, publisher in zip(ids, texts, datelines, publishers):
        a = analyse(text, res, dateline if isinstance(dateline, str) else None, publisher)
        starts = [s for s, _ in sentence_spans(text)]
        for f in a.found.values():
            forms = set()
            for start, end, is_name in sorted(set(f.spans)):
                mention_id = f"{article_id}:{start}-{end}"
                mentions.append((mention_id, article_id, f.entity_id, text[start:end], start, end, max(0, bisect_right(starts, start) - 1)))
                if is_name:
                    forms.add(text[start:end])
            forms |= f.aliases
            observations.append((article_id, f.entity_id, f.name, f.entity_type, f.country, sorted(forms - {f.name}), f.latitude, f.longitude))
        for p in a.positions:
            facts.append((article_id, "HOLDS_POSITION", p.person, p.of, p.title, p.start, p.end, 0.9))
    m = pd.DataFrame(mentions, columns=["mention_id", "article_id", "entity_id", "text", "start", "end", "sentence_index"])
    # One occurrence, one entity: when two entities claim the same span, the first found keeps it.
    m = m.drop_duplicates("mention_id").reset_index(drop=True)
    o = pd.DataFrame(observations, columns=["article_id", "entity_id", "name", "entity_type", "country_iso3", "aliases", "latitude", "longitude"])
    return {
        "mentions": m[columns("mentions")] if len(m) else empty_frame("mentions"),
        "entity_observations": o[columns("entity_observations")] if len(o) else empty_frame("entity_observations"),
        "entity_facts": pd.DataFrame(facts, columns=FACT_COLUMNS),
    }


def merge(observations: pd.DataFrame, mentions: pd.DataFrame) -> pd.DataFrame:
    """One row per entity, from the tallies of its observations and mentions (the rules are in
    `entity_tallies.merge`; incremental runs merge from stored tallies instead)."""
    if observations.empty:
        return empty_frame("entities")
    obs = pa.Table.from_pandas(observations[columns("entity_observations")], schema=arrow_schema("entity_observations"), preserve_index=False)
    said = pa.Table.from_pandas(mentions[["article_id", "entity_id"]].astype(object), preserve_index=False)
    return entity_tallies.merge(entity_tallies.summed([entity_tallies.observed(obs), entity_tallies.mentioned(said)]).to_pandas())

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

from coop_pipeline.names import ArticleNames
from coop_pipeline.page import find_dateline
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
    """One row per entity: its most frequent name (then the longest, then the last in code-point
    order), its most frequent type (then the first seen), its most frequent country (then the last
    code), all aliases, the first coordinates seen, mention counts. Computed with group-bys, not a
    loop over entities: a dataset holds hundreds of thousands of them."""
    if observations.empty:
        return empty_frame("entities")
    obs = observations.reset_index(drop=True)
    obs = obs.assign(_row=range(len(obs)))  # observation order decides ties of type and coordinates
    ids = obs["entity_id"].drop_duplicates().sort_values().reset_index(drop=True)
    name = _most_frequent(obs, "name", by_length=True)
    entity_type = _most_frequent(obs, "entity_type", first_seen=True)
    country = _most_frequent(obs[obs["country_iso3"].notna()], "country_iso3")
    coordinates = obs.groupby("entity_id", sort=False)[["latitude", "longitude"]].first()  # first non-null of each
    counts = mentions.groupby("entity_id").agg(n_mentions=("article_id", "size"), n_articles=("article_id", "nunique"))
    out = pd.DataFrame({"entity_id": ids.astype(object)})
    out["name"] = out["entity_id"].map(name).astype(object)
    out["entity_type"] = out["entity_id"].map(entity_type).astype(object)
    out["country_iso3"] = out["entity_id"].map(country).astype(object).where(out["entity_id"].isin(country.index), None)
    out["aliases"] = out["entity_id"].map(_aliases(obs, name)).apply(lambda a: a if isinstance(a, list) else [])
    for column in ("latitude", "longitude"):
        value = out["entity_id"].map(coordinates[column]).astype(object)
        out[column] = value.where(value.notna(), None)
    out["n_mentions"] = out["entity_id"].map(counts["n_mentions"]).fillna(0).astype(int)
    out["n_articles"] = out["entity_id"].map(counts["n_articles"]).fillna(0).astype(int)
    return out


def _most_frequent(obs: pd.DataFrame, column: str, by_length: bool = False, first_seen: bool = False) -> pd.Series:
    """entity_id -> its most frequent value of `column`; ties go to the longest value (`by_length`),
    to the value seen first (`first_seen`), else to the last value in code-point order."""
    grouped = obs.groupby(["entity_id", column], sort=False)["_row"].agg(["size", "min"]).reset_index()
    keys, ascending = ["entity_id", "size"], [True, False]
    if by_length:
        grouped["length"] = grouped[column].str.len()
        keys, ascending = keys + ["length"], ascending + [False]
    if first_seen:
        keys, ascending = keys + ["min"], ascending + [True]
    else:
        keys, ascending = keys + [column], ascending + [False]
    best = grouped.sort_values(keys, ascending=ascending, kind="mergesort").drop_duplicates("entity_id")
    return pd.Series(best[column].to_numpy(dtype=object), index=best["entity_id"].to_numpy(dtype=object))


def _aliases(obs: pd.DataFrame, name: pd.Series) -> pd.Series:
    """entity_id -> sorted distinct aliases: the observations' aliases and every other name seen."""
    listed = obs[["entity_id", "aliases"]].explode("aliases").rename(columns={"aliases": "alias"})
    names = obs[["entity_id", "name"]].rename(columns={"name": "alias"})
    names = names[names["alias"].to_numpy(dtype=object) != names["entity_id"].map(name).to_numpy(dtype=object)]
    both = pd.concat([listed, names], ignore_index=True).dropna().astype(object).drop_duplicates()
    both = both.sort_values(["entity_id", "alias"], kind="mergesort")
    return both.groupby("entity_id", sort=False)["alias"].agg(list)

"""Entities stage: people, organizations, countries, places, facilities, spacecraft and named events.

`extract(articles, resources)` returns mentions and per-article entity observations;
`merge(observations, mentions)` folds observations into one row per real-world entity.
The extractor itself arrives with issue 3; until then it finds nothing.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

from coop_pipeline.schemas import empty_frame


def extract(articles: pd.DataFrame, resources: object) -> dict[str, pd.DataFrame]:
    """Mentions and entity observations of a batch of articles."""
    return {"mentions": empty_frame("mentions"), "entity_observations": empty_frame("entity_observations")}


def merge(observations: pd.DataFrame, mentions: pd.DataFrame) -> pd.DataFrame:
    """One row per entity: its most frequent name, type and country, all aliases, mention counts."""
    if observations.empty:
        return empty_frame("entities")
    counts = mentions.groupby("entity_id").agg(n_mentions=("article_id", "size"), n_articles=("article_id", "nunique"))
    rows = []
    for entity_id, group in observations.groupby("entity_id", sort=True):
        names = Counter(group["name"])
        name = max(names, key=lambda n: (names[n], len(n), n))
        aliases = sorted({a for lst in group["aliases"] for a in lst} | set(names) - {name})
        countries = Counter(c for c in group["country_iso3"] if isinstance(c, str))
        rows.append(
            {
                "entity_id": entity_id,
                "name": name,
                "entity_type": Counter(group["entity_type"]).most_common(1)[0][0],
                "country_iso3": max(countries, key=lambda c: (countries[c], c)) if countries else None,
                "aliases": aliases,
                "latitude": group["latitude"].dropna().iloc[0] if group["latitude"].notna().any() else None,
                "longitude": group["longitude"].dropna().iloc[0] if group["longitude"].notna().any() else None,
                "n_mentions": int(counts["n_mentions"].get(entity_id, 0)),
                "n_articles": int(counts["n_articles"].get(entity_id, 0)),
            }
        )
    return pd.DataFrame(rows)

"""Convenience views analysts otherwise build by hand, as pandas functions and as DuckDB views.

- `events_wide`: every event with the names of its source, target and location, and its article's
  date, title and publisher; `effective_date` is the event date, else the publication date.
- `country_pairs`: events between two different countries, per unordered pair, type and year
  (negated events are left out: "did not sign" is no cooperation).
- `positions`: who held which title in which organization or country, first and last seen
  (publication dates of the articles stating it), from `HOLDS_POSITION` relationships.

The pandas functions take what `coop_pipeline.load` returns (or an output directory); the same
views exist in `coop_pipeline.connect()` under the same names. Both are written from one
definition each and a test checks they give the same rows.

>>> import coop_pipeline
>>> wide = coop_pipeline.events_wide("output")
>>> wide[["event_type", "source_name", "target_name", "location_name", "year"]].tail(3)
       event_type       source_name target_name location_name  year
2  SIGN_AGREEMENT        Kazakhstan       Kenya       Nairobi  2025
3           VISIT  Barlybay Sadykov       Kenya           NaN  <NA>
4       COOPERATE        Kazakhstan         NaN           NaN  <NA>
>>> coop_pipeline.country_pairs("output")
  country_a country_b      event_type  year  n_events  n_clusters  n_articles
0       FRA       KAZ  SIGN_AGREEMENT  2017         1           1           1
1       KAZ       KEN         CONSULT  2025         1           1           1
2       KAZ       KEN  SIGN_AGREEMENT  2025         1           1           1
3       KAZ       KEN           VISIT  <NA>         1           1           1
>>> coop_pipeline.positions("output")[["person", "title", "country", "first_seen", "last_seen", "n_articles"]]
             person     title country first_seen  last_seen  n_articles
0  Barlybay Sadykov  Minister     KAZ 2025-09-05 2025-09-05           2
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import pandas as pd

EVENT_ORDER = ["article_id", "start", "event_id"]


def _data(data: Mapping[str, pd.DataFrame] | str | os.PathLike) -> Mapping[str, pd.DataFrame]:
    if isinstance(data, (str, os.PathLike)):
        from coop_pipeline.api import load

        return load(data, tables=["articles", "entities", "events", "relationships"])
    return data


def _names(entities: pd.DataFrame, prefix: str, with_type: bool = True) -> pd.DataFrame:
    cols = {"entity_id": f"{prefix}_entity_id", "name": f"{prefix}_name"}
    if with_type:
        cols["entity_type"] = f"{prefix}_type"
    return entities[list(cols)].rename(columns=cols)


def events_wide(data: Mapping[str, pd.DataFrame] | str | os.PathLike) -> pd.DataFrame:
    """Events with source, target and location names and their article's date, title and publisher."""
    data = _data(data)
    ents, arts = data["entities"], data["articles"]
    wide = data["events"].merge(_names(ents, "source"), on="source_entity_id", how="left")
    wide = wide.merge(_names(ents, "target"), on="target_entity_id", how="left")
    wide = wide.merge(_names(ents, "location", with_type=False), on="location_entity_id", how="left")
    art = arts[["article_id", "published_date", "title", "source_name"]].rename(columns={"title": "article_title", "source_name": "publisher"})
    wide = wide.merge(art, on="article_id", how="left")
    wide["effective_date"] = wide["event_date"].fillna(wide["published_date"])
    wide["year"] = wide["effective_date"].dt.year.astype("Int64")
    return wide.sort_values(EVENT_ORDER, kind="mergesort").reset_index(drop=True)


def country_pairs(data: Mapping[str, pd.DataFrame] | str | os.PathLike) -> pd.DataFrame:
    """Events per unordered pair of different countries, per event type and per year.

    `n_events` counts event rows, `n_clusters` real-world events (distinct `cluster_id`),
    `n_articles` the articles reporting them; `year` is that of `effective_date` (null if unknown).
    """
    wide = events_wide(data)
    both = wide["source_country"].notna() & wide["target_country"].notna()
    keep = wide[both & ~wide["negated"].astype(bool) & (wide["source_country"] != wide["target_country"])].copy()
    src, tgt = keep["source_country"].astype(str), keep["target_country"].astype(str)
    keep["country_a"] = src.where(src < tgt, tgt)
    keep["country_b"] = tgt.where(src < tgt, src)
    keys = ["country_a", "country_b", "event_type", "year"]
    grouped = keep.groupby(keys, observed=True, dropna=False, sort=False).agg(
        n_events=("event_id", "size"), n_clusters=("cluster_id", "nunique"), n_articles=("article_id", "nunique")
    )
    out = grouped.reset_index()
    out["event_type"] = out["event_type"].astype(wide["event_type"].dtype)
    out["year"] = out["year"].astype("Int64")
    out = out.astype({"n_events": "int64", "n_clusters": "int64", "n_articles": "int64"})
    # sorted by the names of the types, as in SQL (not by the categories' vocabulary order)
    by_name = lambda col: col.astype(str).where(col.notna()) if isinstance(col.dtype, pd.CategoricalDtype) else col
    return out.sort_values(keys, kind="mergesort", na_position="first", key=by_name).reset_index(drop=True)


def positions(data: Mapping[str, pd.DataFrame] | str | os.PathLike) -> pd.DataFrame:
    """Who held which title where: one row per person, title and organization (or country).

    `country` is the organization's country (a country is its own), else the person's;
    `first_seen` / `last_seen` are the earliest and latest publication dates of the articles
    stating it, `n_articles` how many articles, `n_statements` how many relationship rows.
    """
    data = _data(data)
    rel = data["relationships"]
    held = rel[rel["predicate"] == "HOLDS_POSITION"]
    ents = data["entities"][["entity_id", "name", "entity_type", "country_iso3"]]
    people = ents.rename(columns={"entity_id": "person_id", "name": "person", "country_iso3": "person_country"}).drop(columns="entity_type")
    orgs = ents.rename(columns={"entity_id": "organization_id", "name": "organization", "entity_type": "organization_type", "country_iso3": "org_country"})
    rows = held.rename(columns={"subject_entity_id": "person_id", "object_entity_id": "organization_id", "qualifier": "title"})
    rows = rows[["person_id", "title", "organization_id", "article_id"]]
    rows = rows.merge(people, on="person_id", how="left").merge(orgs, on="organization_id", how="left")
    rows = rows.merge(data["articles"][["article_id", "published_date"]], on="article_id", how="left")
    rows["country"] = rows["org_country"].fillna(rows["person_country"])
    keys = ["person_id", "person", "title", "organization_id", "organization", "organization_type", "country"]
    out = (
        rows.groupby(keys, observed=True, dropna=False, sort=False)
        .agg(first_seen=("published_date", "min"), last_seen=("published_date", "max"), n_articles=("article_id", "nunique"), n_statements=("article_id", "size"))
        .reset_index()
    )
    out["organization_type"] = out["organization_type"].astype(ents["entity_type"].dtype)
    for col in ("first_seen", "last_seen"):
        out[col] = out[col].astype(data["articles"]["published_date"].dtype)
    out = out.astype({"n_articles": "int64", "n_statements": "int64"})
    order = ["person", "person_id", "first_seen", "title", "organization_id"]
    return out.sort_values(order, kind="mergesort", na_position="last").reset_index(drop=True)


# The same views in SQL for `connect()`; column names and orders match the pandas functions above.
SQL_VIEWS = {
    "events_wide": """
        SELECT e.*,
               s.name AS source_name, s.entity_type AS source_type,
               t.name AS target_name, t.entity_type AS target_type,
               l.name AS location_name,
               a.published_date, a.title AS article_title, a.source_name AS publisher,
               coalesce(e.event_date, a.published_date) AS effective_date,
               year(coalesce(e.event_date, a.published_date)) AS year
        FROM events e
        LEFT JOIN entities s ON s.entity_id = e.source_entity_id
        LEFT JOIN entities t ON t.entity_id = e.target_entity_id
        LEFT JOIN entities l ON l.entity_id = e.location_entity_id
        LEFT JOIN articles a ON a.article_id = e.article_id
        ORDER BY e.article_id, e.start, e.event_id
    """,
    "country_pairs": """
        SELECT least(source_country, target_country) AS country_a,
               greatest(source_country, target_country) AS country_b,
               event_type, year,
               count(*) AS n_events, count(DISTINCT cluster_id) AS n_clusters, count(DISTINCT article_id) AS n_articles
        FROM events_wide
        WHERE NOT negated AND source_country IS NOT NULL AND target_country IS NOT NULL
              AND source_country <> target_country
        GROUP BY ALL
        ORDER BY country_a, country_b, event_type, year NULLS FIRST
    """,
    "positions": """
        SELECT r.subject_entity_id AS person_id, p.name AS person, r.qualifier AS title,
               r.object_entity_id AS organization_id, o.name AS organization, o.entity_type AS organization_type,
               coalesce(o.country_iso3, p.country_iso3) AS country,
               min(a.published_date) AS first_seen, max(a.published_date) AS last_seen,
               count(DISTINCT r.article_id) AS n_articles, count(*) AS n_statements
        FROM relationships r
        LEFT JOIN entities p ON p.entity_id = r.subject_entity_id
        LEFT JOIN entities o ON o.entity_id = r.object_entity_id
        LEFT JOIN articles a ON a.article_id = r.article_id
        WHERE r.predicate = 'HOLDS_POSITION'
        GROUP BY ALL
        ORDER BY person NULLS LAST, person_id, first_seen NULLS LAST, title NULLS LAST, organization_id
    """,
}


def create_views(con: object) -> None:
    """Create the convenience views in a DuckDB connection whose tables are already views."""
    for name, sql in SQL_VIEWS.items():
        con.execute(f"CREATE VIEW {name} AS {sql}")

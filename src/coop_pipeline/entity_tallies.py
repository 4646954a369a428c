"""Entity tallies: what the articles say about each entity, counted, so that entities merge from counts.

An entity's row (name, type, country, aliases, coordinates, mention counts) depends only on how many
observations give each name, type, country, alias and pair of coordinates, and on how many mentions
and articles it has. The internal `entity_tallies` table keeps those counts, one row per entity,
field and value. A run adds the tallies of the articles it adds and subtracts those of the articles
it removes, so an incremental run reads the counts of the entities it touches, never their
observations: new articles mention the hub entities (Kazakhstan, its ministries) that half the
dataset mentions. Tallies are computed in Arrow, one part at a time, and summed.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from coop_pipeline.errors import StoreError
from coop_pipeline.schemas import arrow_schema, empty_frame

FIELDS = ("name", "entity_type", "country_iso3", "alias", "coordinates", "mentions", "articles")
KEYS = ["entity_id", "field", "value", "latitude", "longitude"]  # what one tally counts
ROWS_BEFORE_SUMMING = 200_000  # tallies held before they are summed: bounds memory on full runs


def _schema() -> pa.Schema:
    return arrow_schema("entity_tallies")


def _counted(rows: pa.Table, field: str, by: list[str], value: str | None = None, n: pa.Array | None = None) -> pa.Table:
    """Tallies of `field` from `rows` grouped by `by` (entity_id first), the value from column `value`."""
    if n is None:
        grouped = rows.group_by(by).aggregate([("entity_id", "count")])
        n = grouped["entity_id_count"]
    else:
        grouped = rows
    size = grouped.num_rows
    nulls = pa.nulls(size, pa.string())
    return pa.table({
        "entity_id": grouped["entity_id"],
        "field": pa.array([field] * size, pa.string()),
        "value": grouped[value] if value else nulls,
        "latitude": grouped["latitude"] if field == "coordinates" else pa.nulls(size, pa.float64()),
        "longitude": grouped["longitude"] if field == "coordinates" else pa.nulls(size, pa.float64()),
        "n": pc.cast(n, pa.int64()),
    }, schema=_schema())


def observed(observations: pa.Table) -> pa.Table:
    """Tallies of entity observations: names, types, countries, aliases listed, coordinates."""
    countries = observations.filter(pc.is_valid(observations["country_iso3"]))
    placed = observations.filter(pc.and_(pc.is_valid(observations["latitude"]), pc.is_valid(observations["longitude"])))
    aliases = observations["aliases"]
    listed = pa.table({"entity_id": pc.take(observations["entity_id"], pc.list_parent_indices(aliases)), "alias": pc.list_flatten(aliases)})
    listed = listed.filter(pc.is_valid(listed["alias"]))
    return pa.concat_tables([
        _counted(observations, "name", ["entity_id", "name"], "name"),
        _counted(observations, "entity_type", ["entity_id", "entity_type"], "entity_type"),
        _counted(countries, "country_iso3", ["entity_id", "country_iso3"], "country_iso3"),
        _counted(listed, "alias", ["entity_id", "alias"], "alias"),
        _counted(placed, "coordinates", ["entity_id", "latitude", "longitude"]),
    ])


def mentioned(mentions: pa.Table) -> pa.Table:
    """Tallies of mentions (article_id, entity_id): mentions and distinct articles per entity. A
    part holds whole articles, so the distinct articles of two parts add up."""
    grouped = mentions.group_by("entity_id").aggregate([("article_id", "count"), ("article_id", "count_distinct")])
    return pa.concat_tables([
        _counted(grouped, "mentions", ["entity_id"], n=grouped["article_id_count"]),
        _counted(grouped, "articles", ["entity_id"], n=grouped["article_id_count_distinct"]),
    ])


def negated(tallies: pa.Table) -> pa.Table:
    """The same tallies subtracted (the articles a run removes)."""
    return tallies.set_column(tallies.schema.get_field_index("n"), tallies.schema.field("n"), pc.negate(tallies["n"]))


def summed(tallies: Iterable[pa.Table], changes: bool = False) -> pa.Table:
    """One row per tally with the counts added up; tallies that reach zero are dropped, and a
    negative count is an error unless these are `changes` (a run that removes more than it adds).
    Sums as it goes, so that memory follows the distinct tallies, not the parts read."""
    total = _schema().empty_table()
    pending: list[pa.Table] = []
    held = 0
    for table in tallies:
        pending.append(table)
        held += table.num_rows
        if held > max(ROWS_BEFORE_SUMMING, 2 * total.num_rows):
            total, pending, held = _sum([total, *pending]), [], 0
    total = _sum([total, *pending])
    negative = total.filter(pc.less(total["n"], 0))
    if negative.num_rows and not changes:
        raise StoreError(f"entity tallies out of step with the stored articles (entity {negative['entity_id'][0]}); run with --full")
    return total.filter(pc.not_equal(total["n"], 0))


def _sum(tables: list[pa.Table]) -> pa.Table:
    grouped = pa.concat_tables(tables).group_by(KEYS).aggregate([("n", "sum")])
    return grouped.rename_columns([*KEYS, "n"]).select([f.name for f in _schema()]).cast(_schema())


def merge(tallies: pd.DataFrame) -> pd.DataFrame:
    """One row per entity with at least one observation: its most frequent name (then the longest,
    then the last in code-point order), its most frequent type and country (then the last code),
    all aliases listed and every other name seen, its most frequent coordinates (then the smallest),
    its mentions and the articles mentioning it. Every rule reads counts, none the order of rows,
    so the same articles give the same entities whichever run added them."""
    field = tallies["field"]
    names = tallies[field == "name"]
    if names.empty:
        return empty_frame("entities")
    name = _most_frequent(names, by_length=True)
    out = pd.DataFrame({"entity_id": pd.Series(sorted(set(names["entity_id"])), dtype=object)})
    out["name"] = out["entity_id"].map(name).astype(object)
    out["entity_type"] = out["entity_id"].map(_most_frequent(tallies[field == "entity_type"])).astype(object)
    country = _most_frequent(tallies[field == "country_iso3"])
    out["country_iso3"] = out["entity_id"].map(country).astype(object).where(out["entity_id"].isin(country.index), None)
    out["aliases"] = out["entity_id"].map(_aliases(tallies[field == "alias"], names, name)).apply(lambda a: a if isinstance(a, list) else [])
    places = tallies[field == "coordinates"].sort_values(["entity_id", "n", "latitude", "longitude"], ascending=[True, False, True, True], kind="mergesort")
    places = places.drop_duplicates("entity_id").set_index("entity_id")
    for column in ("latitude", "longitude"):
        value = out["entity_id"].map(places[column]).astype(object)
        out[column] = value.where(value.notna(), None)
    for column, counted in (("n_mentions", "mentions"), ("n_articles", "articles")):
        counts = tallies[field == counted].set_index("entity_id")["n"]
        out[column] = out["entity_id"].map(counts).fillna(0).astype(int)
    return out


def _most_frequent(rows: pd.DataFrame, by_length: bool = False) -> pd.Series:
    """entity_id -> its most frequent value; ties go to the longest value (`by_length`), then to
    the last value in code-point order."""
    rows = rows.assign(length=rows["value"].str.len()) if by_length else rows
    keys = ["entity_id", "n", *(["length"] if by_length else []), "value"]
    best = rows.sort_values(keys, ascending=[True] + [False] * (len(keys) - 1), kind="mergesort").drop_duplicates("entity_id")
    return pd.Series(best["value"].to_numpy(dtype=object), index=best["entity_id"].to_numpy(dtype=object))


def _aliases(listed: pd.DataFrame, names: pd.DataFrame, name: pd.Series) -> pd.Series:
    """entity_id -> sorted distinct aliases: those the observations list and every other name seen."""
    other = names[names["value"].to_numpy(dtype=object) != names["entity_id"].map(name).to_numpy(dtype=object)]
    both = pd.concat([listed[["entity_id", "value"]], other[["entity_id", "value"]]], ignore_index=True).astype(object).drop_duplicates()
    both = both.sort_values(["entity_id", "value"], kind="mergesort")
    return both.groupby("entity_id", sort=False)["value"].agg(list)

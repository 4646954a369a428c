"""Validate stage: every table against its pandera model, lazily; failing rows go to quarantine."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from coop_pipeline.ingest import quarantine_row
from coop_pipeline.schemas import ALL_MODELS, PRIMARY_KEYS, columns, empty_frame


def conform(table: str, df: pd.DataFrame | None) -> pd.DataFrame:
    """`df` with exactly the table's columns (missing ones as nulls), in contract order."""
    if df is None or df.empty and len(df.columns) == 0:
        return empty_frame(table)
    df = df.copy()
    for col in columns(table):
        if col not in df.columns:
            df[col] = None
    return df[columns(table)].reset_index(drop=True)


def validate_table(table: str, df: pd.DataFrame | None, run_id: str, source_paths: dict[str, str] | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """Valid rows of `df` and one quarantine row per rejected record, with pandera's failure case."""
    df = conform(table, df)
    if df.empty:
        return empty_frame(table), []
    try:
        return ALL_MODELS[table].validate(df, lazy=True).reset_index(drop=True), []
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    now = pd.Timestamp.now(tz="UTC")
    pk = PRIMARY_KEYS.get(table)
    bad_index = {int(i) for i in cases["index"].dropna().unique()}
    whole_table = cases["index"].isna().any() and not bad_index
    rows = []
    if whole_table:  # a schema-level failure (wrong column type...): no row can be trusted
        bad_index = set(range(len(df)))
    for idx in sorted(bad_index):
        record = df.iloc[idx]
        mine = cases[cases["index"] == idx] if not whole_table else cases
        detail = "; ".join(f"{c.column}: {c.check} failed on {c.failure_case!r}" for c in mine.itertuples())
        article_id = record.get("article_id") if "article_id" in record else None
        source = (source_paths or {}).get(article_id) or str(record.get("source_path") or article_id or "")
        row = quarantine_row(source, "validate", f"schema:{table}", detail, run_id, now)
        row.update(table_name=table, record_id=str(record[pk]) if pk and pk in record else None)
        rows.append(row)
    good = df.drop(index=list(bad_index)).reset_index(drop=True)
    if good.empty:
        return empty_frame(table), rows
    return ALL_MODELS[table].validate(good, lazy=True).reset_index(drop=True), rows


# What each extracted table refers to: (column, table it must exist in, may be null).
REFERENCES = {
    "mentions": (("article_id", "articles", False), ("entity_id", "entities", False)),
    "entity_observations": (("article_id", "articles", False),),
    "relationships": (("article_id", "articles", False), ("subject_entity_id", "entities", False), ("object_entity_id", "entities", False)),
    "events": (("article_id", "articles", False), ("source_entity_id", "entities", True), ("target_entity_id", "entities", True), ("location_entity_id", "entities", True)),
    "event_participants": (("article_id", "articles", False), ("event_id", "events", False), ("entity_id", "entities", False)),
}

PARENT_IDS = {"entities": ("entity_observations", "entity_id"), "events": ("events", "event_id")}  # table, key


def _absent(values: pd.Series, known: set[str]) -> pd.Series:
    """True where a value is not one of the `known` ids, by one set lookup per value: pandas' `isin`
    on a string column first turns every member of `known` into an Arrow scalar, which made this
    check cost more than validating the tables (0.15 ms per article)."""
    return pd.Series([v not in known for v in values.tolist()], index=values.index, dtype=bool)


def drop_orphans(tables: dict[str, pd.DataFrame], article_ids: set[str], run_id: str, source_paths: dict[str, str] | None = None) -> tuple[dict[str, pd.DataFrame], list[dict]]:
    """Valid records of one batch minus those that point to a record that is not there (an entity
    no observation describes, an event that failed validation, another batch's article), so that
    rejecting one record never leaves broken references behind. Dropped rows become quarantine rows."""
    tables = dict(tables)
    rows: list[dict] = []
    now = pd.Timestamp.now(tz="UTC")
    known: dict[str, set[str]] = {"articles": article_ids}  # each parent's ids, once its own table is checked

    def ids(parent: str) -> set[str]:
        if parent not in known:
            source, key = PARENT_IDS[parent]
            known[parent] = set(tables[source][key].tolist()) if source in tables else set()
        return known[parent]

    for table in ("entity_observations", "mentions", "relationships", "events", "event_participants"):  # parents first
        df = tables.get(table)
        if df is None or df.empty:
            continue
        bad = pd.Series(False, index=df.index)
        why = pd.Series("", index=df.index)
        for column, parent, nullable in REFERENCES[table]:
            values = df[column]
            missing = _absent(values, ids(parent)) & ~(values.isna() if nullable else False)
            if missing.any():
                why[missing & ~bad] = f"{column} " + values[missing & ~bad].astype(str) + f" is not in {parent}"
                bad |= missing
        for idx in df.index[bad]:
            record = df.loc[idx]
            source = (source_paths or {}).get(record["article_id"]) or str(record["article_id"])
            row = quarantine_row(source, "validate", f"orphan:{table}", why[idx], run_id, now)
            pk = PRIMARY_KEYS.get(table)
            row.update(table_name=table, record_id=str(record[pk]) if pk else None)
            rows.append(row)
        if bad.any():  # else the table stays as validate_table returned it (indexed from 0)
            tables[table] = df[~bad].reset_index(drop=True)
    return tables, rows

"""Validate stage: every table against its pandera model, lazily; failing rows go to quarantine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pyarrow.compute as pc
from pandera.engines.pandas_engine import Engine

from coop_pipeline.ingest import quarantine_row
from coop_pipeline.schemas import ALL_MODELS, PRIMARY_KEYS, columns, empty_frame


def conform(table: str, df: pd.DataFrame | None) -> pd.DataFrame:
    """`df` with exactly the table's columns (missing ones as nulls), in contract order."""
    if df is None or df.empty and len(df.columns) == 0:
        return empty_frame(table)
    wanted = columns(table)
    missing = [col for col in wanted if col not in df.columns]
    if missing:  # a new frame: the caller's is left as it was
        df = df.assign(**dict.fromkeys(missing))
    return df[wanted].reset_index(drop=True)


def passing(table: str, df: pd.DataFrame) -> pd.DataFrame | None:
    """`df` coerced as pandera coerces it when it passes every check of the table's pandera schema,
    else None. Pandera's own run is the reference: this runs the same coercions and check functions
    of the same schema, without what makes pandera slow on valid data (for every column, passing or
    not, it builds a frame of failure cases and formats it into a message: about half its cost). A table
    that fails here, or holds a check this does not run the way pandera does, is left to pandera,
    which reports its failures: the verdicts and the quarantined rows are pandera's."""
    schema = ALL_MODELS[table].to_schema()
    # What pandera would do differently (a frame-wide dtype, parsers, regex columns...): its own run.
    unusual = schema.dtype is not None or schema.index is not None or schema.unique or schema.parsers
    if unusual or any(c.parsers or c.regex for c in schema.columns.values()) or set(schema.columns) != set(df.columns):
        return None
    coerced = {}
    for name, series in df.items():  # in the frame's order (contract order), as pandera keeps it
        series = _passing_column(schema, schema.columns[name], series)
        if series is None:
            return None
        coerced[name] = series
    valid = pd.DataFrame(coerced)
    return valid if all(_check_passes(check, valid) for check in schema.checks) else None


def column_passes(table: str, frame: pd.DataFrame) -> bool:
    """Whether the one column of `frame` passes its checks in `table`'s pandera schema (coerced as the
    schema coerces it). The checks of `passing` run first; when they fail or do not apply, pandera's
    own run gives the verdict."""
    (name,) = frame.columns
    schema = ALL_MODELS[table].to_schema()
    column = schema.columns[name]
    if schema.dtype is None and not (column.parsers or column.regex):
        try:
            if _passing_column(schema, column, frame[name]) is not None:
                return True
        except Exception:  # pandera says why below
            pass
    try:
        pa.DataFrameSchema({name: column}, coerce=schema.coerce).validate(frame, lazy=True)
    except pa.errors.SchemaErrors:
        return False
    return True


def _passing_column(schema: pa.DataFrameSchema, column: pa.Column, series: pd.Series) -> pd.Series | None:
    """`series` coerced as the schema coerces it, when it passes the column's checks; else None."""
    if schema.coerce or column.coerce:
        try:
            series = column.dtype.try_coerce(series)
        except Exception:  # pandera reports what could not be coerced
            return None
    return series if _column_passes(column, series) else None


def _column_passes(column: pa.Column, series: pd.Series) -> bool:
    """Nulls, uniqueness, dtype and checks of one coerced column, as pandera tests them."""
    if not column.nullable and series.hasnans:
        return False
    if column.unique and series.duplicated().any():
        return False
    if column.dtype is not None and not np.all(column.dtype.check(Engine.dtype(series.dtype), series)):
        return False
    return all(_check_passes(check, series) for check in column.checks)


def _check_passes(check: pa.Check, data: pd.Series | pd.DataFrame) -> bool:
    """A check run by pandera's check backend (which leaves out nulls as pandera's validation does);
    a check that only warns is left to pandera's own run."""
    return not check.raise_warning and bool(check(data).check_passed)


def validate_table(table: str, df: pd.DataFrame | None, run_id: str, source_paths: dict[str, str] | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """Valid rows of `df` and one quarantine row per rejected record, with pandera's failure case."""
    df = conform(table, df)
    if df.empty:
        return empty_frame(table), []
    valid = passing(table, df)
    if valid is not None:
        return valid, []
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
            missing = ~_isin(values, ids(parent)) & ~(values.isna() if nullable else False)
            if missing.any():  # most batches: no orphan, nothing to write
                why[missing & ~bad] = f"{column} " + values[missing & ~bad].astype(str) + f" is not in {parent}"
                bad |= missing
        if not bad.any():
            continue
        for idx in df.index[bad]:
            record = df.loc[idx]
            source = (source_paths or {}).get(record["article_id"]) or str(record["article_id"])
            row = quarantine_row(source, "validate", f"orphan:{table}", why[idx], run_id, now)
            pk = PRIMARY_KEYS.get(table)
            row.update(table_name=table, record_id=str(record[pk]) if pk else None)
            rows.append(row)
        tables[table] = df[~bad].reset_index(drop=True)
    return tables, rows


def _isin(values: pd.Series, ids: set[str]) -> pd.Series:
    """`values.isin(ids)` for a column of strings, computed by Arrow: pandas' `isin` on an Arrow string
    column turns every id into an Arrow scalar and back in Python (3/4 of `drop_orphans`' cost)."""
    array = pa_arrow.array(values, from_pandas=True)
    if not (pa_arrow.types.is_string(array.type) or pa_arrow.types.is_large_string(array.type)) or not all(isinstance(i, str) for i in ids):
        return values.isin(ids)
    found = pc.is_in(array, value_set=pa_arrow.array(list(ids), type=array.type))  # a null is in no set of strings
    return pd.Series(found.to_numpy(zero_copy_only=False), index=values.index)

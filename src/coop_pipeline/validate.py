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

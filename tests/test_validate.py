"""Validation: pandera models per table; bad rows go to quarantine with the failure case."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from pandera.errors import SchemaErrors
from pandera.pandas import DataFrameSchema

from coop_pipeline.config import Settings
from coop_pipeline.ingest import IngestRules, discover, ingest_batch, quarantine_row
from coop_pipeline.schemas import ALL_MODELS, MODELS, columns, empty_frame
from coop_pipeline.validate import column_passes, conform, drop_orphans, passing, validate_table
from coop_pipeline.vocabulary import vocabulary

REPO = Path(__file__).resolve().parents[1]


def mention(i: int, start: int = 0, end: int = 5, entity: str = "country:KAZ") -> dict:
    return {"mention_id": f"art-{i:016x}:{start}-{end}", "article_id": f"art-{i:016x}", "entity_id": entity,
            "text": "Kazak", "start": start, "end": end, "sentence_index": 0}


def test_good_rows_pass_and_bad_rows_are_quarantined_with_reason():
    rows = [mention(1), mention(2, start=9, end=3), mention(3)]
    rows[2]["mention_id"] = rows[0]["mention_id"]  # duplicate primary id
    valid, rejected = validate_table("mentions", pd.DataFrame(rows), "run-1", {"art-0000000000000002": "b.txt"})
    assert list(valid["article_id"]) == []  # both duplicates and the bad span are rejected
    reasons = {(r["record_id"], r["reason"]) for r in rejected}
    assert ("art-0000000000000002:9-3", "schema:mentions") in reasons
    span = next(r for r in rejected if r["record_id"] == "art-0000000000000002:9-3")
    assert span["source_path"] == "b.txt" and "start_before_end" in span["detail"]
    dup = [r for r in rejected if "field_uniqueness" in r["detail"]]
    assert len(dup) == 2


def test_enumerations_come_from_the_vocabulary_files():
    vocab = vocabulary()
    assert "SIGN_AGREEMENT" in vocab["event_type"] and "FACILITY" in vocab["entity_type"]
    bad = {**mention(1), "entity_id": "country:KAZ"}
    entities = pd.DataFrame([{"entity_id": "country:KAZ", "name": "Kazakhstan", "entity_type": "NATION", "country_iso3": "KAZ",
                              "aliases": ["Kazakh"], "latitude": None, "longitude": None, "n_mentions": 1, "n_articles": 1}])
    valid, rejected = validate_table("entities", entities, "run-1")
    assert valid.empty and "isin" in rejected[0]["detail"]
    assert bad  # the mention itself is fine
    assert validate_table("mentions", pd.DataFrame([bad]), "run-1")[1] == []


def test_every_table_has_a_model_and_empty_frame():
    for table in MODELS:
        frame = empty_frame(table)
        assert list(frame.columns) == columns(table)
        valid, rejected = validate_table(table, frame, "run-1")
        assert valid.empty and rejected == []


def seed_tables() -> dict[str, pd.DataFrame]:
    """Valid tables from the seed articles (articles, quarantine) and the mention helper."""
    settings = Settings(raw_dir=REPO / "raw")
    articles, _ = ingest_batch(REPO / "raw", discover(REPO / "raw"), settings, IngestRules.load(), "run-1")
    now = pd.Timestamp("2026-01-01", tz="UTC")
    quarantine = pd.DataFrame([quarantine_row("a.txt", "ingest", "empty", "the file is empty", "run-1", now),
                               quarantine_row("b.txt", "validate", "schema:mentions", "start: failed", "run-1", now)])
    return {"articles": articles, "quarantine": quarantine, "mentions": pd.DataFrame([mention(i, 2 * i, 2 * i + 5) for i in range(6)])}


def broken(df: pd.DataFrame, column: str, value: object) -> pd.DataFrame:
    values = df[column].astype(object).tolist()
    values[1] = value
    return df.assign(**{column: pd.Series(values, dtype=object)})


BREAKS = [  # (table, column, value): each fails one check of the table's pandera model
    ("articles", "article_id", "art-XYZ"), ("articles", "language", None), ("articles", "n_chars", -1),
    ("articles", "duplicate_paths", ["a.txt", 3]), ("articles", "content_sha256", "abc"), ("articles", "date_source", "guess"),
    ("mentions", "mention_id", "art-0000000000000000:0-5"), ("mentions", "start", 99), ("mentions", "end", "five"),
    ("quarantine", "stage", "nowhere"), ("quarantine", "reason", "Not A Code"), ("quarantine", "detail", None),
]


def test_one_column_is_judged_as_pandera_judges_it():
    """`column_passes` (the quality report's check of a column the commit rewrote) agrees with
    pandera's own check of that column on every column of the valid tables and on the broken ones."""
    tables = {table: conform(table, df) for table, df in seed_tables().items()}
    cases = [(table, column, df) for table, df in tables.items() for column in df.columns]
    cases += [(table, column, conform(table, broken(tables[table], column, value))) for table, column, value in BREAKS]
    for table, column, df in cases:
        frame = df[[column]]
        schema = ALL_MODELS[table].to_schema()
        try:
            DataFrameSchema({column: schema.columns[column]}, coerce=schema.coerce).validate(frame, lazy=True)
            expected = True
        except SchemaErrors:
            expected = False
        assert column_passes(table, frame) is expected, (table, column)
    assert not all(column_passes(table, df[[column]]) for table, column, df in cases)  # the broken ones fail


def test_the_fast_path_gives_pandera_s_frame_and_leaves_failures_to_pandera():
    """`passing` runs the pandera schema's own coercions and checks without pandera's failure reports:
    on valid tables it must return exactly what `Model.validate` returns, and nothing on a table
    pandera rejects (then pandera's own run reports the failures)."""
    for table, df in seed_tables().items():
        df = conform(table, df)
        fast = passing(table, df)
        assert fast is not None, f"valid {table} should not need pandera's full run"
        pd.testing.assert_frame_equal(fast, ALL_MODELS[table].validate(df, lazy=True), check_exact=True)
    tables = seed_tables()
    for table, column, value in BREAKS:
        df = conform(table, broken(tables[table], column, value))
        with pytest.raises(SchemaErrors):
            ALL_MODELS[table].validate(df, lazy=True)
        assert passing(table, df) is None, (table, column, value)
        valid, rejected = validate_table(table, df, "run-1")
        assert rejected and len(valid) + len(rejected) == len(df)  # the broken row (both copies of a duplicate id)
        assert all(column in row["detail"] for row in rejected)


def test_orphans_are_dropped_and_a_null_reference_is_no_orphan():
    ids = [f"art-{i:016x}" for i in range(3)]
    observations = pd.DataFrame([{"article_id": ids[0], "entity_id": "country:KAZ", "name": "Kazakhstan", "entity_type": "COUNTRY",
                                  "country_iso3": "KAZ", "aliases": [], "latitude": None, "longitude": None}])
    mentions = pd.DataFrame([mention(0), {**mention(1), "entity_id": "country:FRA"}, {**mention(2), "article_id": "art-ffffffffffffffff"}])
    tables = {"entity_observations": validate_table("entity_observations", observations, "run-1")[0],
              "mentions": validate_table("mentions", mentions, "run-1")[0]}
    kept, rows = drop_orphans(tables, set(ids), "run-1", {ids[1]: "one.txt"})
    assert list(kept["mentions"]["mention_id"]) == [mention(0)["mention_id"]]
    details = sorted(r["detail"] for r in rows)
    assert details == ["article_id art-ffffffffffffffff is not in articles", "entity_id country:FRA is not in entities"]
    assert {r["source_path"] for r in rows} == {"one.txt", "art-ffffffffffffffff"}
    event = {"event_id": "evt-1", "article_id": ids[0], "event_type": "SIGN_AGREEMENT", "cameo_code": None, "plover_type": None,
             "cluster_id": "evt-1", "status": "occurred", "negated": False, "source_entity_id": "country:KAZ", "target_entity_id": None,
             "source_country": "KAZ", "target_country": None, "location_entity_id": None, "event_date": None, "date_precision": None,
             "date_basis": None, "sectors": [], "trigger": "signed", "sentence": "Kazakhstan signed.", "start": 0, "end": 18, "confidence": 0.5}
    tables["events"] = validate_table("events", pd.DataFrame([event]), "run-1")[0]
    kept, rows = drop_orphans(tables, set(ids), "run-1")
    assert len(kept["events"]) == 1  # null target and location: no reference to check

"""The analysis API: load() dtypes, the read-only Dataset, connect() views, convenience views."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pandas as pd
import pyarrow as pa
import pytest

import coop_pipeline
from api_fixtures import AT, RUN_ID, demo_tables, write_output
from coop_pipeline.api import allowed_values, typed_frame
from coop_pipeline.errors import ConfigError, StoreError
from coop_pipeline.schemas import LIST_COLUMNS, arrow_schema, columns
from coop_pipeline.store import ALL_TABLES, TABLES, Store
from coop_pipeline.vocabulary import vocabulary
from coop_pipeline.views import SQL_VIEWS


def test_import_is_cheap():
    code = "import sys, coop_pipeline; print(sorted(m for m in ('pandas', 'duckdb', 'prefect', 'pyarrow') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_lazy_exports_resolve_to_the_api():
    from coop_pipeline import api, views

    assert coop_pipeline.load is api.load and coop_pipeline.connect is api.connect
    assert coop_pipeline.positions is views.positions
    with pytest.raises(AttributeError):
        coop_pipeline.no_such_thing  # noqa: B018


@pytest.mark.parametrize("which", ["demo_output", "empty_output"])
def test_load_gives_every_table_with_contract_dtypes(which, request):
    data = coop_pipeline.load(request.getfixturevalue(which), internal=True)
    assert list(data) == list(ALL_TABLES)
    for table, frame in data.items():
        assert list(frame.columns) == columns(table)
        enums = allowed_values(table)
        for field in arrow_schema(table):
            col = frame[field.name]
            if field.name in enums:
                assert isinstance(col.dtype, pd.CategoricalDtype), (table, field.name)
                assert tuple(col.cat.categories) == enums[field.name]
            elif pa.types.is_date(field.type):
                assert col.dtype == "datetime64[s]", (table, field.name)
            elif pa.types.is_timestamp(field.type):
                assert str(col.dtype) == "datetime64[us, UTC]", (table, field.name)
            elif field.name in LIST_COLUMNS:
                assert all(type(v) is list for v in col), (table, field.name)


def test_enumerations_carry_all_vocabulary_values_even_unused():
    events = typed_frame("events", pa.Table.from_pandas(demo_tables()["events"].iloc[:1], preserve_index=False))
    counts = events["event_type"].value_counts()
    assert set(counts.index) == set(vocabulary().event_types)
    assert counts["SIGN_AGREEMENT"] == 1 and counts["LAUNCH"] == 0


def test_value_outside_vocabulary_is_kept_not_nulled():
    frame = demo_tables()["events"].iloc[:2].copy()
    frame.loc[1, "event_type"] = "BLOCKADE"
    events = typed_frame("events", pa.Table.from_pandas(frame, preserve_index=False))
    assert events["event_type"].tolist() == ["SIGN_AGREEMENT", "BLOCKADE"]
    assert list(events["event_type"].cat.categories)[-1] == "BLOCKADE"


def test_values_round_trip(demo_output):
    data = coop_pipeline.load(demo_output)
    art = data.articles.set_index("article_id")
    assert art.loc["art-2222222222222222", "published_date"] == pd.Timestamp("2025-09-05")
    assert pd.isna(art.loc["art-3333333333333333", "published_date"])
    assert data.entities.set_index("entity_id").loc["country:FRA", "aliases"] == ["France", "French Republic"]
    assert data.events.set_index("event_id").loc["evt-3", "sectors"] == ["space"]
    assert data.runs.loc[0, "started_at"] == AT and data.runs.loc[0, "run_id"] == RUN_ID


def test_dataset_is_read_only_with_attribute_access(demo_output):
    data = coop_pipeline.load(demo_output, tables=["events", "runs"])
    assert list(data) == ["events", "runs"] and len(data) == 2
    assert data.events is data["events"]
    assert "events" in dir(data)
    with pytest.raises(TypeError):
        data["events"] = pd.DataFrame()
    with pytest.raises(AttributeError):
        data.events = pd.DataFrame()
    with pytest.raises(AttributeError, match="no table 'articles' loaded"):
        data.articles  # noqa: B018
    assert "events=5" in repr(data)
    assert data.summary().loc["events", "rows"] == 5


def test_load_errors_name_the_problem(tmp_path, demo_output):
    with pytest.raises(StoreError, match="holds no coop-pipeline output"):
        coop_pipeline.load(tmp_path / "nothing")
    with pytest.raises(ConfigError, match="unknown table 'event'"):
        coop_pipeline.load(demo_output, tables=["event"])
    with pytest.raises(StoreError):
        coop_pipeline.connect(tmp_path)


@pytest.mark.parametrize("which", ["demo_output", "empty_output"])
def test_connect_has_every_table_and_view(which, request):
    out = request.getfixturevalue(which)
    data = coop_pipeline.load(out, internal=True)
    con = coop_pipeline.connect(out)
    try:
        for table in ALL_TABLES:
            assert con.sql(f"select count(*) from {table}").fetchall() == [(len(data[table]),)]
            assert con.sql(f"select * from {table} limit 0").columns == columns(table)
        for view in SQL_VIEWS:
            con.sql(f"select * from {view}").fetchall()
        types = dict(zip(*[con.sql("select * from events limit 0").columns, map(str, con.sql("select * from events limit 0").types)]))
        assert types["event_date"] == "DATE" and types["sectors"] == "VARCHAR[]"
    finally:
        con.close()


def test_connect_views_follow_the_current_version(tmp_path):
    out = write_output(tmp_path / "output")
    con = coop_pipeline.connect(out)
    try:
        assert con.sql("select count(*) from events").fetchall() == [(5,)]
        tables = demo_tables()
        write_output(out, {"events": tables["events"].iloc[:2], "event_participants": tables["event_participants"].iloc[:0]})
        assert con.sql("select count(*) from events").fetchall() == [(2,)]
    finally:
        con.close()


def _plain(frame: pd.DataFrame) -> list[tuple]:
    """Rows as plain Python values, so pandas and DuckDB results compare: dates as dates, nulls as None."""
    rows = []
    for rec in frame.astype(object).itertuples(index=False):
        row = []
        for v in rec:
            if isinstance(v, (list, tuple)) or hasattr(v, "tolist") and not isinstance(v, (str, pd.Timestamp)):
                v = list(v)
            elif v is None or v is pd.NA or v is pd.NaT or isinstance(v, float) and pd.isna(v):
                v = None
            elif isinstance(v, pd.Timestamp):
                v = v.to_pydatetime() if v.tzinfo else v.date()
            elif isinstance(v, dt.datetime) and v.tzinfo is None:
                v = v.date()
            elif hasattr(v, "item"):
                v = v.item()
            row.append(v)
        rows.append(tuple(row))
    return rows


@pytest.mark.parametrize("which", ["demo_output", "empty_output"])
@pytest.mark.parametrize("view", list(SQL_VIEWS))
def test_pandas_and_duckdb_views_agree(view, which, request):
    out = request.getfixturevalue(which)
    frame = getattr(coop_pipeline, view)(coop_pipeline.load(out))
    con = coop_pipeline.connect(out)
    try:
        rel = con.sql(f"select * from {view}")
        assert list(frame.columns) == rel.columns
        assert _plain(frame) == [tuple(list(v) if isinstance(v, list) else v for v in row) for row in rel.fetchall()]
    finally:
        con.close()


def _pair_events(rows: list[tuple]) -> dict[str, pd.DataFrame]:
    base = demo_tables()["events"].iloc[0].to_dict()
    events = []
    for i, (src, tgt, etype, date, negated) in enumerate(rows):
        events.append(base | {"event_id": f"evt-{i}", "cluster_id": "same" if i < 2 else f"c{i}", "source_country": src, "target_country": tgt,
                              "event_type": etype, "event_date": date, "negated": negated, "start": i})
    return {"events": pd.DataFrame(events), "event_participants": demo_tables()["event_participants"].iloc[:0]}


def test_country_pairs_are_unordered_and_leave_out_negated_and_domestic(tmp_path):
    y = dt.date(2024, 5, 1)
    out = write_output(tmp_path / "output", _pair_events([
        ("KAZ", "KEN", "CONSULT", y, False),
        ("KEN", "KAZ", "CONSULT", y, False),  # same pair the other way round, same cluster
        ("KAZ", "KEN", "CONSULT", dt.date(2023, 1, 1), False),
        ("KAZ", "KEN", "COOPERATE", y, True),  # negated
        ("KAZ", "KAZ", "CONSULT", y, False),  # domestic
        ("KAZ", None, "CONSULT", y, False),  # one side unknown
    ]))
    pairs = coop_pipeline.country_pairs(out)
    got = pairs[["country_a", "country_b", "event_type", "year", "n_events", "n_clusters"]].astype(object).values.tolist()
    assert got == [["KAZ", "KEN", "CONSULT", 2023, 1, 1], ["KAZ", "KEN", "CONSULT", 2024, 2, 1]]
    assert isinstance(pairs["event_type"].dtype, pd.CategoricalDtype)


def test_positions_first_and_last_seen_span_articles(tmp_path):
    tables = demo_tables()
    arts = tables["articles"].copy()
    arts.loc[2, "published_date"] = dt.date(2026, 1, 2)  # the third article now has a date
    out = write_output(tmp_path / "output", tables | {"articles": arts})
    pos = coop_pipeline.positions(out)
    assert len(pos) == 1
    row = pos.iloc[0]
    assert (row["person_id"], row["title"], row["organization"], row["country"]) == (
        "person:barlybay-sadykov", "Minister", "Ministry of Digital Development of Kazakhstan", "KAZ")
    assert (row["first_seen"], row["last_seen"]) == (pd.Timestamp("2025-09-05"), pd.Timestamp("2026-01-02"))
    assert (row["n_articles"], row["n_statements"]) == (2, 2)


def test_events_wide_names_every_party(demo_output):
    wide = coop_pipeline.events_wide(demo_output).set_index("event_id")
    assert wide.loc["evt-2", ["source_name", "source_type", "target_name", "location_name", "publisher"]].tolist() == [
        "Barlybay Sadykov", "PERSON", "Kenya Space Agency", "Nairobi", "Kazakhstan Today"]
    # no event date: the publication date stands in; no date at all: no year
    assert wide.loc["evt-2", "effective_date"] == pd.Timestamp("2025-09-05")
    assert wide.loc["evt-3", "effective_date"] == pd.Timestamp("2025-09-04")
    assert pd.isna(wide.loc["evt-4", "year"])
    assert len(wide) == len(coop_pipeline.load(demo_output).events)


def test_store_fixture_tables_are_all_written(demo_output):
    store = Store(demo_output)
    assert {t: store.count(t) > 0 for t in TABLES} == {t: True for t in TABLES}

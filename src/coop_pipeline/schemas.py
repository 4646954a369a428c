"""One pandera DataFrameModel per contract table; allowed values come from the vocabulary files.

The Arrow schema each table is written with is derived from the same models (`arrow_schema`), so the
validated frame, the Parquet file and docs/data-contract.md cannot disagree.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
from pandera import extensions
from pandera.engines import pandas_engine
from pandera.typing import Series

from coop_pipeline.vocabulary import vocabulary

V = vocabulary()
Date = pandas_engine.Date
UTC = {"dtype_kwargs": {"unit": "us", "tz": "UTC"}}


if "list_of_strings" not in pa.Check.REGISTERED_CUSTOM_CHECKS:

    @extensions.register_check_method()
    def list_of_strings(series: pd.Series) -> pd.Series:
        """Each value is a list (or array) of strings: Parquet list<string> columns."""
        return series.map(lambda v: hasattr(v, "__len__") and not isinstance(v, str) and all(isinstance(x, str) for x in v))


def _list_field(description: str) -> object:
    return pa.Field(description=description, list_of_strings=())


class Table(pa.DataFrameModel):
    class Config:
        coerce = True
        strict = "filter"  # columns outside the contract are dropped, not written


class Articles(Table):
    """One row per distinct article."""

    article_id: Series[str] = pa.Field(unique=True, str_matches=r"^art-[0-9a-f]{16}$", description="derived from the cleaned text, so a renamed file keeps its id")
    source_path: Series[str] = pa.Field(description="path of the raw file, relative to the raw directory")
    duplicate_paths: Series[object] = _list_field("other raw files with the same cleaned text")
    source_name: Series[str] = pa.Field(nullable=True, description="publisher, e.g. Kazinform")
    title: Series[str] = pa.Field(nullable=True, description="headline")
    published_date: Series[Date] = pa.Field(nullable=True, description="publication date")
    date_source: Series[str] = pa.Field(isin=V["date_source"], description="where the publication date was found")
    dateline: Series[str] = pa.Field(nullable=True, description="place of the dateline, e.g. Astana")
    language: Series[str] = pa.Field(str_matches=r"^[a-z]{2,3}$", description="ISO 639-1 code")
    encoding: Series[str] = pa.Field(description="encoding the raw bytes were decoded from")
    text: Series[str] = pa.Field(description="the cleaned article body (boilerplate removed); offsets point into it")
    n_chars: Series[int] = pa.Field(ge=0, description="characters in text")
    n_sentences: Series[int] = pa.Field(ge=0, description="sentences in text")
    content_sha256: Series[str] = pa.Field(str_length=64, description="sha256 of the raw file's bytes")
    ingested_at: Series[pd.DatetimeTZDtype] = pa.Field(description="when the article was ingested (UTC)", **UTC)
    pipeline_version: Series[str] = pa.Field(description="coop_pipeline version that wrote the row")


class Entities(Table):
    """One row per distinct real-world entity across the whole dataset."""

    entity_id: Series[str] = pa.Field(unique=True, str_matches=r"^[a-z]+:\S+$", description="stable readable id, e.g. country:KAZ")
    name: Series[str] = pa.Field(description="canonical name")
    entity_type: Series[str] = pa.Field(isin=V["entity_type"], description="entity type")
    country_iso3: Series[str] = pa.Field(nullable=True, str_matches=r"^[A-Z]{3}$", description="country it belongs to or represents")
    aliases: Series[object] = _list_field("other names seen or known")
    latitude: Series[float] = pa.Field(nullable=True, ge=-90, le=90, description="latitude of places whose coordinates are known")
    longitude: Series[float] = pa.Field(nullable=True, ge=-180, le=180, description="longitude of places whose coordinates are known")
    n_mentions: Series[int] = pa.Field(ge=0, description="mentions across the dataset")
    n_articles: Series[int] = pa.Field(ge=0, description="articles mentioning it")


class Mentions(Table):
    """One row per occurrence of an entity in an article."""

    mention_id: Series[str] = pa.Field(unique=True, description="article id and character span")
    article_id: Series[str] = pa.Field(description="article the mention is in")
    entity_id: Series[str] = pa.Field(description="entity it refers to (after coreference)")
    text: Series[str] = pa.Field(description="the mention as written")
    start: Series[int] = pa.Field(ge=0, description="character offset into articles.text")
    end: Series[int] = pa.Field(ge=0, description="character offset into articles.text (exclusive)")
    sentence_index: Series[int] = pa.Field(ge=0, description="sentence number within the article")

    @pa.dataframe_check(name="start_before_end")
    def _span(cls, df: pd.DataFrame) -> pd.Series:
        return df["start"] < df["end"]


class Evidence(Table):
    """Columns shared by every record that quotes its evidence."""

    article_id: Series[str] = pa.Field(description="article the record comes from")
    sentence: Series[str] = pa.Field(description="the sentence stating it")
    start: Series[int] = pa.Field(ge=0, description="offset of the evidence into articles.text")
    end: Series[int] = pa.Field(ge=0, description="end offset of the evidence into articles.text")
    confidence: Series[float] = pa.Field(ge=0, le=1, description="confidence from the evidence used")


class Events(Evidence):
    """One row per event reported in an article."""

    event_id: Series[str] = pa.Field(unique=True, description="stable event id")
    event_type: Series[str] = pa.Field(isin=V["event_type"], description="contract event type")
    cameo_code: Series[str] = pa.Field(nullable=True, description="closest CAMEO code")
    plover_type: Series[str] = pa.Field(nullable=True, description="PLOVER category")
    cluster_id: Series[str] = pa.Field(description="shared by events reporting the same real-world event")
    status: Series[str] = pa.Field(isin=V["status"], description="occurred, ongoing, planned or proposed")
    negated: Series[bool] = pa.Field(description="the sentence denies the event")
    source_entity_id: Series[str] = pa.Field(nullable=True, description="who did it")
    target_entity_id: Series[str] = pa.Field(nullable=True, description="to or with whom")
    source_country: Series[str] = pa.Field(nullable=True, str_matches=r"^[A-Z]{3}$", description="ISO3 of the source actor")
    target_country: Series[str] = pa.Field(nullable=True, str_matches=r"^[A-Z]{3}$", description="ISO3 of the target actor")
    location_entity_id: Series[str] = pa.Field(nullable=True, description="where it happened")
    event_date: Series[Date] = pa.Field(nullable=True, description="when it happened")
    date_precision: Series[str] = pa.Field(nullable=True, isin=V["date_precision"], description="day, month or year")
    date_basis: Series[str] = pa.Field(nullable=True, isin=V["date_basis"], description="explicit, relative or publication")
    sectors: Series[object] = _list_field("sectors, e.g. space, defense")
    trigger: Series[str] = pa.Field(description="the words that signal the event")


class EventParticipants(Table):
    """Who took part in an event, and in which role."""

    event_id: Series[str] = pa.Field(description="the event")
    entity_id: Series[str] = pa.Field(description="the participant")
    role: Series[str] = pa.Field(isin=V["role"], description="source, target or participant")
    article_id: Series[str] = pa.Field(description="article of the event")


class Relationships(Evidence):
    """One row per relation stated in an article."""

    relation_id: Series[str] = pa.Field(unique=True, description="stable relation id")
    subject_entity_id: Series[str] = pa.Field(description="subject entity")
    predicate: Series[str] = pa.Field(isin=V["predicate"], description="relation type")
    object_entity_id: Series[str] = pa.Field(description="object entity")
    qualifier: Series[str] = pa.Field(nullable=True, description="e.g. the title Ambassador, the sector space")


class Quarantine(Table):
    """One row per input file or record that was rejected, with the reason."""

    source_path: Series[str] = pa.Field(description="raw file the rejected input came from")
    stage: Series[str] = pa.Field(isin=V["stage"], description="stage that rejected it")
    reason: Series[str] = pa.Field(str_matches=r"^[a-z_:]+$", description="short reason code")
    detail: Series[str] = pa.Field(description="readable detail (pandera failure case for records)")
    table_name: Series[str] = pa.Field(nullable=True, description="table of a rejected record")
    record_id: Series[str] = pa.Field(nullable=True, description="id of a rejected record")
    run_id: Series[str] = pa.Field(description="run that rejected it")
    at: Series[pd.DatetimeTZDtype] = pa.Field(description="when (UTC)", **UTC)


class Runs(Table):
    """One row per run."""

    run_id: Series[str] = pa.Field(unique=True, description="run id (UTC start time and a random suffix)")
    started_at: Series[pd.DatetimeTZDtype] = pa.Field(description="start (UTC)", **UTC)
    finished_at: Series[pd.DatetimeTZDtype] = pa.Field(nullable=True, description="end (UTC)", **UTC)
    status: Series[str] = pa.Field(isin=V["run_status"], description="completed or failed")
    mode: Series[str] = pa.Field(isin=["full", "incremental"], description="full or incremental")
    files_seen: Series[int] = pa.Field(ge=0, description="raw files found")
    files_new: Series[int] = pa.Field(ge=0, description="files not seen by an earlier run")
    files_changed: Series[int] = pa.Field(ge=0, description="files whose content changed")
    files_unchanged: Series[int] = pa.Field(ge=0, description="files skipped as unchanged")
    files_removed: Series[int] = pa.Field(ge=0, description="files gone since the last run")
    rows_written: Series[str] = pa.Field(description="JSON object: rows per table after the run")
    quarantined: Series[int] = pa.Field(ge=0, description="files and records quarantined by this run")
    pipeline_version: Series[str] = pa.Field(description="coop_pipeline version")
    dictionaries_sha256: Series[str] = pa.Field(description="JSON object: sha256 of each dictionary file")
    flow_run_id: Series[str] = pa.Field(nullable=True, description="Prefect flow run id")
    error: Series[str] = pa.Field(nullable=True, description="one-line reason of a failed run")


class Files(Table):
    """Internal: what became of every raw file, for incremental runs."""

    source_path: Series[str] = pa.Field(unique=True, description="raw file, relative to the raw directory")
    content_sha256: Series[str] = pa.Field(str_length=64, description="sha256 of its bytes")
    size: Series[int] = pa.Field(ge=0, description="bytes")
    outcome: Series[str] = pa.Field(isin=["article", "duplicate", "quarantined"], description="where the file ended")
    article_id: Series[str] = pa.Field(nullable=True, description="article it became (or duplicates)")
    stat_signature: Series[str] = pa.Field(nullable=True, description="size:mtime:ctime:inode when hashed; unchanged means not re-read")


class EntityObservations(Table):
    """Internal: an entity as one article describes it; `entities` is their merge across articles."""

    article_id: Series[str] = pa.Field(description="article describing the entity")
    entity_id: Series[str] = pa.Field(str_matches=r"^[a-z]+:\S+$", description="entity id")
    name: Series[str] = pa.Field(description="fullest name in the article")
    entity_type: Series[str] = pa.Field(isin=V["entity_type"], description="entity type")
    country_iso3: Series[str] = pa.Field(nullable=True, str_matches=r"^[A-Z]{3}$", description="country")
    aliases: Series[object] = _list_field("other names used in the article")
    latitude: Series[float] = pa.Field(nullable=True, ge=-90, le=90, description="latitude")
    longitude: Series[float] = pa.Field(nullable=True, ge=-180, le=180, description="longitude")


class EntityTallies(Table):
    """Internal: how many observations give an entity each name, type, country, alias and coordinates,
    and its mentions and articles; `entities` rows are decided from these counts (entity_tallies)."""

    entity_id: Series[str] = pa.Field(str_matches=r"^[a-z]+:\S+$", description="entity id")
    field: Series[str] = pa.Field(isin=["name", "entity_type", "country_iso3", "alias", "coordinates", "mentions", "articles"], description="what is counted")
    value: Series[str] = pa.Field(nullable=True, description="the name, type, country or alias counted")
    latitude: Series[float] = pa.Field(nullable=True, ge=-90, le=90, description="latitude counted (field coordinates)")
    longitude: Series[float] = pa.Field(nullable=True, ge=-180, le=180, description="longitude counted (field coordinates)")
    n: Series[int] = pa.Field(ge=1, description="observations (mentions, articles) counted")


MODELS: dict[str, type[Table]] = {
    "articles": Articles,
    "entities": Entities,
    "mentions": Mentions,
    "events": Events,
    "event_participants": EventParticipants,
    "relationships": Relationships,
    "quarantine": Quarantine,
    "runs": Runs,
}
INTERNAL_MODELS: dict[str, type[Table]] = {"files": Files, "entity_observations": EntityObservations, "entity_tallies": EntityTallies}
ALL_MODELS: dict[str, type[Table]] = {**MODELS, **INTERNAL_MODELS}
PRIMARY_KEYS = {
    "articles": "article_id",
    "entities": "entity_id",
    "mentions": "mention_id",
    "events": "event_id",
    "relationships": "relation_id",
    "runs": "run_id",
    "files": "source_path",
}
LIST_COLUMNS = {"duplicate_paths", "aliases", "sectors"}


EVIDENCE_COLUMNS = ("sentence", "start", "end", "confidence")


def _ordered(table: str) -> list[tuple[str, object]]:
    """Columns in contract order: the primary key first, evidence columns last."""
    items = list(ALL_MODELS[table].to_schema().columns.items())
    pk = PRIMARY_KEYS.get(table)
    evidence = table in ("events", "relationships")
    def rank(item: tuple[str, object]) -> int:
        name = item[0]
        if name == pk:
            return 0
        if name == "article_id":
            return 1
        return 3 if evidence and name in EVIDENCE_COLUMNS else 2
    return sorted(items, key=rank)


def columns(table: str) -> list[str]:
    """Contract column order of a table."""
    return [name for name, _ in _ordered(table)]


def arrow_schema(table: str) -> pa_arrow.Schema:
    """The explicit Arrow types a table is written with (dates as date32, lists as list<string>)."""
    fields = []
    for name, col in _ordered(table):
        dtype = str(col.dtype)
        if name in LIST_COLUMNS:
            arrow_type = pa_arrow.list_(pa_arrow.string())
        elif dtype == "date":
            arrow_type = pa_arrow.date32()
        elif dtype.startswith("datetime64"):
            arrow_type = pa_arrow.timestamp("us", tz="UTC")
        elif dtype in ("int64", "int32"):
            arrow_type = pa_arrow.int64()
        elif dtype.startswith("float"):
            arrow_type = pa_arrow.float64()
        elif dtype == "bool":
            arrow_type = pa_arrow.bool_()
        else:
            arrow_type = pa_arrow.string()
        fields.append(pa_arrow.field(name, arrow_type, nullable=col.nullable))
    return pa_arrow.schema(fields)


def empty_frame(table: str) -> pd.DataFrame:
    """A zero-row frame with the table's columns and dtypes."""
    return arrow_schema(table).empty_table().to_pandas()

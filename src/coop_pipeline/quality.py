"""Quality stage: checks computed from the tables a run wrote, each critical or a warning.

The checks read the committed tables back (`Store`), not what the code meant to write, so a bug in
any stage, a hand-edited Parquet file or a half-merged branch shows up here. `build_report` returns
a JSON-ready dict (verdict, inputs, row counts, checks, chart data); `write_report` puts it in
OUT/quality/ as JSON and a self-contained HTML page, keeping earlier runs' reports beside it.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import uuid
from dataclasses import asdict, dataclass, fields, replace
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute as pc
import pyarrow.parquet as pq

from coop_pipeline import __version__, schemas
from coop_pipeline.config import Settings
from coop_pipeline.errors import ConfigError, StoreError
from coop_pipeline.resources import data_checksums
from coop_pipeline.schemas import MODELS, PRIMARY_KEYS, columns
from coop_pipeline.store import TABLES, Store

REPORT_VERSION = 1
KEEP_REPORTS = 500  # earlier reports kept in OUT/quality/ (an hourly schedule keeps three weeks)
ACTOR_TYPES = ("PERSON", "ORGANIZATION", "COUNTRY")
# Besides the primary keys of schemas.PRIMARY_KEYS: a participant appears once per event and role.
COMPOSITE_KEYS = {"event_participants": ("event_id", "entity_id", "role")}
# (table, column, referenced table, referenced key): what must exist for a row to make sense.
REFERENCES = {
    "mentions": [("article_id", "articles"), ("entity_id", "entities")],
    "events": [("article_id", "articles"), ("source_entity_id", "entities"), ("target_entity_id", "entities"), ("location_entity_id", "entities")],
    "event_participants": [("event_id", "events"), ("entity_id", "entities"), ("article_id", "articles")],
    "relationships": [("article_id", "articles"), ("subject_entity_id", "entities"), ("object_entity_id", "entities")],
}
KEY_OF = {"articles": "article_id", "entities": "entity_id", "events": "event_id"}
RECORD_ID = {"event_participants": "event_id"}  # rows without a primary key are named by their event


@dataclass(frozen=True)
class QualityThresholds:
    """Every threshold of the checks in one place; rates are shares in [0, 1]."""

    quarantine_rate: float = 0.5  # share of raw files quarantined (critical)
    min_files_for_quarantine_rate: int = 20  # below this many files the rate is only a warning
    min_articles_for_empty_output: int = 20  # below this many articles empty extraction is a warning
    null_actor_country: float = 0.2  # event actors (source/target) without a country
    null_entity_country: float = 0.3  # persons, organizations, places without country_iso3
    null_event_date: float = 0.3
    null_publisher: float = 0.2
    null_title: float = 0.1
    articles_without_entities: float = 0.2
    articles_without_events: float = 0.5
    events_per_article_drop: float = 0.3  # relative drop against the previous run
    event_type_shift: float = 0.3  # total variation distance between the event-type mixes
    min_events_for_mix: int = 20  # below this many events the mix is too noisy to compare
    earliest_date: dt.date = dt.date(1957, 1, 1)  # before the space age: surely a parsing error
    future_days: int = 1  # dates later than today + this are in the future (time zones)
    sample_size: int = 5

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "float" and not 0 <= value <= 1:
                raise ConfigError(f"quality threshold {f.name} must be a share in [0, 1], got {value}")
            if f.type == "int" and value < 0:
                raise ConfigError(f"quality threshold {f.name} must not be negative, got {value}")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> "QualityThresholds":
        """Defaults, with the run's quarantine threshold and any explicit overrides."""
        return replace(cls(quarantine_rate=settings.quarantine_rate_threshold), **overrides)


@dataclass(frozen=True)
class Check:
    """The outcome of one check; `value` is compared with `threshold` as `comparison` says."""

    name: str
    category: str
    severity: str  # critical | warning
    passed: bool
    value: float | int | None
    threshold: float | int | None
    message: str
    sample_ids: tuple[str, ...] = ()
    n_offending: int = 0
    comparison: str = "<="


# -- reading ----------------------------------------------------------------------------------
COLUMNS = {
    "articles": ["article_id", "source_name", "title", "published_date"],
    "entities": ["entity_id", "entity_type", "country_iso3"],
    "mentions": ["mention_id", "article_id", "entity_id"],
    "events": ["event_id", "article_id", "event_type", "status", "source_entity_id", "target_entity_id", "location_entity_id", "source_country", "target_country", "event_date"],
    "event_participants": ["event_id", "entity_id", "role", "article_id"],
    "relationships": ["relation_id", "article_id", "subject_entity_id", "object_entity_id"],
    "quarantine": ["source_path", "stage", "reason", "table_name", "record_id", "run_id"],
    "runs": None,
    "files": ["source_path", "outcome", "article_id"],
}


# The largest tables (tens of rows per article): checked part by part (`per_article_checks`), never
# held whole.
PER_ARTICLE_TABLES = ("mentions", "event_participants", "relationships")


def read_table(store: Store, table: str) -> pd.DataFrame:
    """The columns the checks need of one committed table (a table that is not readable, or lacks
    a column, reads as missing: the schema check says why)."""
    cols = COLUMNS[table]
    try:
        return store.read(table, columns=cols)
    except Exception:  # unreadable or missing columns: counted by check_schema
        return pd.DataFrame(columns=cols or columns(table))


def read_tables(store: Store, skip: tuple[str, ...] = ()) -> dict[str, pd.DataFrame]:
    """The columns the checks need of every table but `skip`."""
    return {table: read_table(store, table) for table in COLUMNS if table not in skip}


# -- critical checks --------------------------------------------------------------------------
def _sample(values: object, n: int) -> tuple[str, ...]:
    return tuple(str(v) for v in list(dict.fromkeys(values))[:n])


class CheckedParts:
    """Parquet parts that passed their schema check, so that a later report does not validate them
    again: a run's report then costs what the run wrote, not the size of the dataset.

    Parts are immutable: a commit hard-links the unchanged ones into the next version and writes
    changed rows to new files. A part is known by its inode, size and modification time (the
    change time moves with every hard link, so it cannot be part of the key), under a fingerprint
    of the schemas and dictionaries: any edit of a part, or of the rules, makes it checked again.
    Kept in OUT/_store/schema-checked.json, rewritten with the current parts only.
    """

    def __init__(self, store: Store):
        self.path = store.root / "schema-checked.json"
        self.rules = _rules_fingerprint()
        self.known: dict[str, int] = {}  # part signature -> rows
        self.current: dict[str, int] = {}
        try:
            saved = json.loads(self.path.read_text())
            if saved.get("rules") == self.rules:
                self.known = {str(k): int(v) for k, v in saved["parts"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):  # none yet, or damaged: check all
            pass

    @staticmethod
    def signature(table: str, part: Path) -> str:
        """Empty for a part that cannot be looked at: it is never taken as checked."""
        try:
            st = part.stat()
        except OSError:
            return ""
        return f"{table}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"

    def rows(self, signature: str) -> int | None:
        """Rows of a part already found valid, or None when it must be checked."""
        rows = self.known.get(signature)
        if rows is not None:
            self.current[signature] = rows
        return rows

    def add(self, signature: str, rows: int) -> None:
        self.current[signature] = rows

    def save(self) -> None:
        """Best effort: without the file (a read-only output), the next report checks every part."""
        try:
            _write_atomic(self.path, json.dumps({"rules": self.rules, "parts": self.current}))
        except OSError:
            pass


@functools.lru_cache(maxsize=1)
def _rules_fingerprint() -> str:
    """What a schema check depends on: the schema code, the dictionaries and pandera's version."""
    h = hashlib.sha256(Path(schemas.__file__).read_bytes())
    h.update(json.dumps(data_checksums(), sort_keys=True).encode())
    h.update(f"{metadata.version('pandera')} {__version__}".encode())
    return h.hexdigest()


def check_schema(store: Store, table: str, t: QualityThresholds, checked: CheckedParts | None = None) -> Check:
    """Validate every Parquet part of `table` with its pandera model (part by part: bounded memory),
    but for the parts `checked` already found valid."""
    model, pk = MODELS[table], PRIMARY_KEYS.get(table) or RECORD_ID.get(table)
    bad, rows, failures, samples = 0, 0, set(), []
    for part in store.parts(table):
        signature = CheckedParts.signature(table, part) if checked is not None else ""
        known = checked.rows(signature) if checked is not None and signature else None
        if known is not None:
            rows += known
            continue
        try:
            df = pq.read_table(part).to_pandas()
        except Exception as exc:  # an unreadable part: every row of it is suspect
            bad += 1
            failures.add(f"unreadable part {part.name}: {type(exc).__name__}")
            continue
        rows += len(df)
        if df.empty:
            continue
        try:
            model.validate(df, lazy=True)
        except pa.errors.SchemaErrors as exc:
            cases = exc.failure_cases
            index = cases["index"].dropna()
            hit = sorted({int(i) for i in index}) if len(index) else list(range(len(df)))
            bad += len(hit)
            failures |= {f"{c.column or c.schema_context}: {c.check}" for c in cases.itertuples()}
            if pk in df.columns:
                samples += [str(df[pk].iloc[i]) for i in hit[: t.sample_size]]
            continue
        if checked is not None and signature:
            checked.add(signature, len(df))
    detail = "; ".join(sorted(failures)[:6])
    message = f"{bad} of {rows} rows violate the {MODELS[table].__name__} schema ({detail})" if bad else f"{rows} rows valid"
    return Check(f"schema.{table}", "schema", "critical", bad == 0, bad, 0, message, _sample(samples, t.sample_size), bad)


def key_columns(table: str) -> list[str]:
    return [PRIMARY_KEYS[table]] if table in PRIMARY_KEYS else list(COMPOSITE_KEYS[table])


def check_duplicates(tables: dict[str, pd.DataFrame], table: str, t: QualityThresholds, n_rows: int | None = None) -> Check:
    """Primary ids that appear on more than one row (`tables[table]` may hold only the rows that
    could be duplicates of the table's `n_rows`)."""
    keys = key_columns(table)
    df = tables[table]
    if table == "runs":
        df = df[keys]
    dup = df[df.duplicated(keys, keep=False)] if len(df) else df
    ids = dup[keys].astype(str).agg("/".join, axis=1) if len(dup) else pd.Series([], dtype=str)
    n = int(ids.nunique())
    message = f"{n} duplicated {'/'.join(keys)} over {len(dup)} rows" if n else f"{len(df) if n_rows is None else n_rows} rows, all {'/'.join(keys)} distinct"
    return Check(f"duplicates.{table}", "duplicates", "critical", n == 0, n, 0, message, _sample(ids, t.sample_size), n)


def check_references(tables: dict[str, pd.DataFrame], table: str, t: QualityThresholds, n_rows: int | None = None) -> Check:
    """Rows pointing to an article, entity or event that the referenced table does not hold
    (`tables[table]` may hold only the rows that could be such orphans of the table's `n_rows`)."""
    df = tables[table]
    offending, missing, parts = set(), [], []
    record_id = PRIMARY_KEYS.get(table) or RECORD_ID[table]
    for column, target in REFERENCES[table]:
        values = df[column]
        orphan = values.notna() & ~values.isin(tables[target][KEY_OF[target]].dropna())
        if orphan.any():
            offending |= set(df.loc[orphan, record_id].astype(str))
            missing += list(values[orphan].astype(str))
            parts.append(f"{int(orphan.sum())} {column} not in {target}")
    n = len(offending)
    if n:
        message = f"{n} rows with broken references: {', '.join(parts)} (e.g. {', '.join(_sample(missing, 3))})"
    else:
        message = f"{len(df) if n_rows is None else n_rows} rows, every reference resolves"
    return Check(f"references.{table}", "references", "critical", n == 0, n, 0, message, _sample(sorted(offending), t.sample_size), n)


def per_article_checks(store: Store, table: str, tables: dict[str, pd.DataFrame], t: QualityThresholds) -> tuple[Check, Check, pd.DataFrame]:
    """The duplicate and reference checks of a per-article table, read part by part so that memory
    does not grow with the dataset: a 64-bit hash of each row's key is kept, and the rows that could
    be duplicates (same hash) or orphans; the checks above then run on those rows only. Returns both
    checks and the table's distinct article ids (what the coverage checks need)."""
    keys, cols = key_columns(table), COLUMNS[table]
    known = {target: pyarrow.array(tables[target][KEY_OF[target]].dropna().astype(object).tolist(), type=pyarrow.string()) for _, target in REFERENCES[table]}
    hashes, orphans, article_ids, n_rows = [], [], set(), 0
    try:
        for part in store.parts(table):
            data = pq.read_table(part, columns=cols)
            n_rows += data.num_rows
            article_ids.update(pc.unique(data["article_id"]).to_pylist())
            hashes.append(pd.util.hash_pandas_object(data.select(keys).to_pandas(), index=False).to_numpy())
            orphan = None
            for column, target in REFERENCES[table]:
                values = data[column].cast(pyarrow.string())
                hit = pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, value_set=known[target])))
                orphan = hit if orphan is None else pc.or_(orphan, hit)
            if orphan is not None and pc.any(orphan).as_py():
                orphans.append(data.filter(orphan).to_pandas())
    except Exception:  # unreadable or missing columns, as `read_table` does: the table reads as missing
        empty = {**tables, table: read_table(store, table)}
        return check_duplicates(empty, table, t), check_references(empty, table, t), empty[table][["article_id"]]
    everything = np.concatenate(hashes) if hashes else np.array([], dtype=np.uint64)
    repeated = pd.Series(everything).duplicated(keep=False).to_numpy()
    candidates = _rows_with_hashes(store, table, keys, cols, set(everything[repeated])) if repeated.any() else pd.DataFrame(columns=cols)
    found = pd.concat(orphans, ignore_index=True) if orphans else pd.DataFrame(columns=cols)
    return (check_duplicates({**tables, table: candidates}, table, t, n_rows),
            check_references({**tables, table: found}, table, t, n_rows),
            pd.DataFrame({"article_id": list(article_ids)}))


def _rows_with_hashes(store: Store, table: str, keys: list[str], cols: list[str], wanted: set) -> pd.DataFrame:
    """The rows whose key hashes are in `wanted`, in table order (a second pass, only when there are any)."""
    frames = []
    for part in store.parts(table):
        df = pq.read_table(part, columns=cols).to_pandas()
        frames.append(df[pd.util.hash_pandas_object(df[keys], index=False).isin(wanted).to_numpy()])
    return pd.concat(frames, ignore_index=True)


def check_empty_output(tables: dict[str, pd.DataFrame], t: QualityThresholds) -> list[Check]:
    """Raw files in but no article out; articles in but no entity, mention or event out."""
    n_files, n_articles = len(tables["files"]), len(tables["articles"])
    lost = n_files > 0 and n_articles == 0
    checks = [
        Check("empty_output.articles", "completeness", "critical", not lost, n_articles, 1 if n_files else 0,
              f"{n_files} raw files but no article" if lost else f"{n_files} raw files, {n_articles} articles", comparison=">=")
    ]
    empty = [name for name in ("entities", "mentions", "events") if n_articles and tables[name].empty]
    enforced = n_articles >= t.min_articles_for_empty_output
    note = "" if enforced or not empty else f" (critical from {t.min_articles_for_empty_output} articles)"
    checks.append(
        Check("empty_output.extraction", "completeness", "critical" if enforced else "warning", not empty, len(empty), 0,
              (f"{n_articles} articles but no rows in {', '.join(empty)}{note}" if empty else f"{n_articles} articles; entities, mentions and events written"),
              tuple(empty), len(empty))
    )
    return checks


def check_quarantine_rate(tables: dict[str, pd.DataFrame], t: QualityThresholds) -> Check:
    """Share of the raw files that ended in quarantine."""
    files = tables["files"]
    bad = files[files["outcome"] == "quarantined"]["source_path"]
    rate = len(bad) / len(files) if len(files) else 0.0
    enforced = len(files) >= t.min_files_for_quarantine_rate
    note = "" if enforced else f" (critical from {t.min_files_for_quarantine_rate} files)"
    return Check("quarantine_rate", "quarantine", "critical" if enforced else "warning", rate <= t.quarantine_rate, round(rate, 4), t.quarantine_rate,
                 f"{len(bad)} of {len(files)} raw files quarantined{note}", _sample(sorted(bad), t.sample_size), len(bad))


# -- warnings ---------------------------------------------------------------------------------
def _null_check(name: str, values: pd.Series, ids: pd.Series, threshold: float, what: str, t: QualityThresholds) -> Check:
    missing = values.isna()
    rate = round(float(missing.mean()), 4) if len(values) else None  # no rows: nothing to judge
    message = f"{int(missing.sum())} of {len(values)} {what} are null" if len(values) else f"no {what}"
    return Check(f"null_rate.{name}", "nulls", "warning", rate is None or rate <= threshold, rate, threshold, message,
                 _sample(ids[missing], t.sample_size), int(missing.sum()))


def null_rate_checks(tables: dict[str, pd.DataFrame], t: QualityThresholds) -> list[Check]:
    ev, art, ent = tables["events"], tables["articles"], tables["entities"]
    src = ev[ev["source_entity_id"].notna()]
    tgt = ev[ev["target_entity_id"].notna()]
    actor_country = pd.concat([src["source_country"], tgt["target_country"]], ignore_index=True)
    actor_ids = pd.concat([src["event_id"], tgt["event_id"]], ignore_index=True)
    actors = ent[ent["entity_type"].isin(["PERSON", "ORGANIZATION", "LOCATION", "FACILITY"])]
    return [
        _null_check("actor_country", actor_country, actor_ids, t.null_actor_country, "event actors' countries", t),
        _null_check("entity_country", actors["country_iso3"], actors["entity_id"], t.null_entity_country, "person, organization and place countries", t),
        _null_check("event_date", ev["event_date"], ev["event_id"], t.null_event_date, "event dates", t),
        _null_check("publisher", art["source_name"], art["article_id"], t.null_publisher, "article publishers", t),
        _null_check("title", art["title"], art["article_id"], t.null_title, "article titles", t),
    ]


def coverage_checks(tables: dict[str, pd.DataFrame], t: QualityThresholds) -> list[Check]:
    """Articles from which no entity (mention) or no event was extracted."""
    ids = tables["articles"]["article_id"]
    out = []
    for name, table, threshold in (("entities", "mentions", t.articles_without_entities), ("events", "events", t.articles_without_events)):
        lacking = ids[~ids.isin(set(tables[table]["article_id"]))]
        rate = len(lacking) / len(ids) if len(ids) else 0.0
        out.append(Check(f"articles_without_{name}", "coverage", "warning", rate <= threshold, round(rate, 4), threshold,
                         f"{len(lacking)} of {len(ids)} articles have no {'entity' if name == 'entities' else 'event'}", _sample(lacking, t.sample_size), len(lacking)))
    return out


def _type_mix(events: pd.DataFrame) -> dict[str, float]:
    counts = events["event_type"].value_counts()
    total = counts.sum()
    return {str(k): float(v) / total for k, v in counts.items()} if total else {}


def drift_checks(tables: dict[str, pd.DataFrame], previous: dict | None, t: QualityThresholds) -> list[Check]:
    """Events per article and the event-type mix against the previous run's report."""
    n_art, n_ev = len(tables["articles"]), len(tables["events"])
    per_article = n_ev / n_art if n_art else 0.0
    mix = _type_mix(tables["events"])
    if not previous:
        note = "no earlier report to compare with"
        return [Check("drift.events_per_article", "drift", "warning", True, None, t.events_per_article_drop, f"{per_article:.2f} events per article; {note}"),
                Check("drift.event_type_mix", "drift", "warning", True, None, t.event_type_shift, note)]
    prev_stats, prev_id = previous.get("stats", {}), previous.get("run_id", "?")
    before = prev_stats.get("events_per_article") or 0.0
    drop = (before - per_article) / before if before else 0.0
    checks = [Check("drift.events_per_article", "drift", "warning", drop <= t.events_per_article_drop, round(max(drop, 0.0), 4), t.events_per_article_drop,
                    f"{per_article:.2f} events per article, {before:.2f} in run {prev_id}")]
    before_mix = prev_stats.get("event_type_mix") or {}
    prev_events = int((previous.get("row_counts") or {}).get("events", 0))
    if n_ev < t.min_events_for_mix or prev_events < t.min_events_for_mix:
        checks.append(Check("drift.event_type_mix", "drift", "warning", True, None, t.event_type_shift,
                            f"too few events to compare ({n_ev} now, {prev_events} in run {prev_id}; need {t.min_events_for_mix})"))
        return checks
    tvd = 0.5 * sum(abs(mix.get(k, 0.0) - before_mix.get(k, 0.0)) for k in set(mix) | set(before_mix))
    moved = sorted(set(mix) | set(before_mix), key=lambda k: -abs(mix.get(k, 0.0) - before_mix.get(k, 0.0)))
    checks.append(Check("drift.event_type_mix", "drift", "warning", tvd <= t.event_type_shift, round(tvd, 4), t.event_type_shift,
                        f"total variation {tvd:.2f} against run {prev_id}; most moved: {', '.join(moved[:3])}", tuple(moved[:3])))
    return checks


def date_checks(tables: dict[str, pd.DataFrame], t: QualityThresholds, today: dt.date) -> list[Check]:
    """Dates after today (for acts reported as done) or before the space age."""
    art, ev = tables["articles"], tables["events"]
    horizon = today + dt.timedelta(days=t.future_days)
    # Compared as timestamps: a column of python dates, of datetimes or all nulls behaves the same.
    pub = pd.to_datetime(art["published_date"], errors="coerce")
    when = pd.to_datetime(ev["event_date"], errors="coerce")
    late, first = pd.Timestamp(horizon), pd.Timestamp(t.earliest_date)
    done = ev["status"].isin(["occurred", "ongoing"])  # a planned meeting next month is no error
    future = list(art["article_id"][pub.notna() & (pub > late)]) + list(ev["event_id"][when.notna() & (when > late) & done])
    early = list(art["article_id"][pub.notna() & (pub < first)]) + list(ev["event_id"][when.notna() & (when < first)])
    n_dates = int(pub.notna().sum() + when.notna().sum())
    return [
        Check("dates.future", "dates", "warning", not future, len(future), 0,
              f"{len(future)} of {n_dates} dates after {horizon.isoformat()} (publication dates; dates of occurred or ongoing events)", _sample(future, t.sample_size), len(future)),
        Check("dates.before_1957", "dates", "warning", not early, len(early), 0,
              f"{len(early)} of {n_dates} dates before {t.earliest_date.isoformat()}", _sample(early, t.sample_size), len(early)),
    ]


# -- chart data -------------------------------------------------------------------------------
def _by_period(dates: pd.Series, first: dt.date, last: dt.date) -> dict[str, int]:
    """Counts per month, or per year when the dates span more than six years; dates outside
    [first, last] are left out (the date checks report them) so one typo cannot flatten the chart."""
    d = pd.to_datetime(dates, errors="coerce").dropna()
    d = d[(d >= pd.Timestamp(first)) & (d <= pd.Timestamp(last))]
    if d.empty:
        return {}
    if (d.max() - d.min()).days > 6 * 366:
        keys = d.dt.year.astype(str)
    else:
        months = pd.period_range(d.min().to_period("M"), d.max().to_period("M"), freq="M")
        counts = d.dt.to_period("M").astype(str).value_counts()
        return {str(m): int(counts.get(str(m), 0)) for m in months}
    counts = keys.value_counts()
    years = range(int(d.dt.year.min()), int(d.dt.year.max()) + 1)
    return {str(y): int(counts.get(str(y), 0)) for y in years}


def _trend(runs: pd.DataFrame, limit: int = 30) -> list[dict]:
    done = runs[runs["status"] == "completed"].sort_values("started_at").tail(limit)
    out = []
    for row in done.itertuples(index=False):
        try:
            rows = json.loads(row.rows_written or "{}")
        except (TypeError, json.JSONDecodeError):
            rows = {}
        out.append({"run_id": row.run_id, "started_at": str(row.started_at), "quarantined": int(row.quarantined),
                    **{k: int(rows.get(k, 0)) for k in ("articles", "entities", "mentions", "events", "relationships")}})
    return out


def chart_data(tables: dict[str, pd.DataFrame], checks: list[Check], t: QualityThresholds, today: dt.date) -> dict:
    ev, q = tables["events"], tables["quarantine"]
    span = (t.earliest_date, today + dt.timedelta(days=t.future_days))
    pairs = ev[ev["source_country"].notna() & ev["target_country"].notna() & (ev["source_country"] != ev["target_country"])]
    first = pairs["source_country"] <= pairs["target_country"]
    low, high = pairs["source_country"].where(first, pairs["target_country"]), pairs["target_country"].where(first, pairs["source_country"])
    pair_names = low.astype(object) + " – " + high.astype(object)  # unordered: "FRA – KAZ" for either direction
    by_ts = ev.groupby(["event_type", "status"]).size() if len(ev) else pd.Series([], dtype=int)
    return {
        "events_per_article": round(len(ev) / len(tables["articles"]), 4) if len(tables["articles"]) else 0.0,
        "event_type_mix": _type_mix(ev),
        "events_by_type_status": [{"event_type": str(k[0]), "status": str(k[1]), "n": int(v)} for k, v in by_ts.items()],
        "events_by_period": _by_period(ev["event_date"], *span),
        "articles_by_period": _by_period(tables["articles"]["published_date"], *span),
        "entities_by_type": {str(k): int(v) for k, v in tables["entities"]["entity_type"].value_counts().items()},
        "country_pairs": {str(k): int(v) for k, v in pair_names.value_counts().head(10).items()},
        "quarantine_reasons": {str(k): int(v) for k, v in q["reason"].value_counts().head(12).items()},
        "null_rates": [{"name": c.name.split(".", 1)[1], "value": c.value, "threshold": c.threshold, "passed": c.passed} for c in checks if c.category == "nulls"],
        "trend": _trend(tables["runs"]),
    }


# -- the report -------------------------------------------------------------------------------
def verdict(checks: list[Check]) -> str:
    if any(not c.passed and c.severity == "critical" for c in checks):
        return "failed"
    return "warnings" if any(not c.passed for c in checks) else "passed"


def build_report(settings: Settings, run_id: str | None = None, thresholds: QualityThresholds | None = None, previous: dict | None = None, today: dt.date | None = None) -> dict:
    """Run every check on the tables in `settings.out_dir` and gather the report of `run_id`
    (default: the newest run). `previous` defaults to the newest earlier report on disk."""
    t = thresholds or QualityThresholds.from_settings(settings)
    store = Store(settings.out_dir)
    tables = read_tables(store, skip=PER_ARTICLE_TABLES)
    runs = tables["runs"]
    if run_id is None and len(runs):
        run_id = str(runs.sort_values("started_at")["run_id"].iloc[-1])
    run_id = run_id or "no-run"
    if previous is None:
        previous = previous_report(settings.out_dir, run_id)
    today = today or dt.datetime.now(dt.timezone.utc).date()
    checked = CheckedParts(store)
    checks = [check_schema(store, table, t, checked) for table in TABLES]
    checked.save()
    keyed = (*[k for k in PRIMARY_KEYS if k in TABLES], *COMPOSITE_KEYS)
    done = {}
    for table in PER_ARTICLE_TABLES:
        done[("duplicates", table)], done[("references", table)], tables[table] = per_article_checks(store, table, tables, t)
    checks += [done.get(("duplicates", table)) or check_duplicates(tables, table, t) for table in keyed]
    checks += [done.get(("references", table)) or check_references(tables, table, t) for table in REFERENCES]
    checks += check_empty_output(tables, t)
    checks.append(check_quarantine_rate(tables, t))
    checks += null_rate_checks(tables, t) + coverage_checks(tables, t) + drift_checks(tables, previous, t) + date_checks(tables, t, today)
    row = runs[runs["run_id"] == run_id]
    inputs = {"raw_dir": str(settings.raw_dir), "out_dir": str(settings.out_dir)}
    if len(row):
        r = row.iloc[0]
        inputs.update({k: _plain(r[k]) for k in ("mode", "status", "started_at", "finished_at", "files_seen", "files_new", "files_changed", "files_unchanged", "files_removed", "quarantined", "flow_run_id")})
    counts = {table: int(store.count(table)) for table in TABLES}
    counts["files"] = len(tables["files"])
    return {
        "report_version": REPORT_VERSION,
        "run_id": run_id,
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "pipeline_version": __version__,
        "verdict": verdict(checks),
        "summary": {
            "checks": len(checks),
            "passed": sum(c.passed for c in checks),
            "critical_failed": sum(not c.passed and c.severity == "critical" for c in checks),
            "warnings_failed": sum(not c.passed and c.severity == "warning" for c in checks),
        },
        "inputs": inputs,
        "row_counts": counts,
        "thresholds": {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in asdict(t).items()},
        "previous_run_id": (previous or {}).get("run_id"),
        "checks": [{**asdict(c), "sample_ids": list(c.sample_ids)} for c in checks],
        "stats": chart_data(tables, checks, t, today),
    }


def _plain(value: object) -> object:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value.item() if hasattr(value, "item") else value


def report_dir(out_dir: Path) -> Path:
    return Path(out_dir) / "quality"


def previous_report(out_dir: Path, run_id: str) -> dict | None:
    """The newest report of a run before `run_id` (run ids sort by their start time)."""
    earlier = sorted(p for p in report_dir(out_dir).glob("*.json") if p.stem != "latest" and p.stem < run_id)
    for path in reversed(earlier):
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):  # a damaged old report is skipped, not fatal
            continue
    return None


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_report(out_dir: Path, report: dict) -> Path:
    """Write OUT/quality/<run_id>.json|html, then latest.json|html, each atomically; prune old ones."""
    from coop_pipeline.quality_html import render  # the page is only needed when writing

    directory = report_dir(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    text, page = json.dumps(report, indent=2, sort_keys=False, default=str), render(report)
    for stem in (report["run_id"], "latest"):
        _write_atomic(directory / f"{stem}.json", text)
        _write_atomic(directory / f"{stem}.html", page)
    kept = sorted(p.stem for p in directory.glob("*.json") if p.stem != "latest")
    for stem in kept[:-KEEP_REPORTS]:
        for suffix in (".json", ".html"):
            (directory / f"{stem}{suffix}").unlink(missing_ok=True)
    return directory / "latest.html"


def run_quality(settings: Settings, run_id: str | None = None, thresholds: QualityThresholds | None = None) -> dict:
    """Check the tables a run committed and write its report: what the flow calls after commit."""
    report = build_report(settings, run_id, thresholds)
    write_report(settings.out_dir, report)
    return report


def load_latest(out_dir: Path) -> dict:
    path = report_dir(out_dir) / "latest.json"
    if not path.exists():
        raise StoreError(f"no data-quality report in {path.parent} yet: run `coop-pipeline run --out {out_dir}` first")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise StoreError(f"{path} is not valid JSON: {exc}") from None


# -- summaries --------------------------------------------------------------------------------
def failing(report: dict, severity: str | None = None) -> list[dict]:
    return [c for c in report["checks"] if not c["passed"] and (severity is None or c["severity"] == severity)]


def failure_reason(report: dict) -> str:
    """One line naming the failed critical checks, for the CLI and the Prefect failure."""
    bad = failing(report, "critical")
    names = ", ".join(f"{c['name']} ({c['message']})" for c in bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
    return f"critical data-quality checks failed: {names}; see {report['inputs'].get('out_dir', '.')}/quality/latest.html"


def summary_lines(report: dict) -> list[str]:
    s = report["summary"]
    lines = [f"data quality of run {report['run_id']}: {report['verdict'].upper()} "
             f"({s['passed']} of {s['checks']} checks passed, {s['critical_failed']} critical failed, {s['warnings_failed']} warnings)"]
    for c in failing(report, "critical") + failing(report, "warning"):
        lines.append(f"  {c['severity']:<8} {c['name']}: {c['message']}")
    return lines


def markdown(report: dict) -> str:
    """The verdict as Markdown, for the Prefect UI."""
    icon = {"passed": "✅", "warnings": "⚠️", "failed": "❌"}[report["verdict"]]
    s, counts = report["summary"], report["row_counts"]
    out = [f"# {icon} Data quality: {report['verdict']}", "",
           f"Run `{report['run_id']}`: {s['passed']} of {s['checks']} checks passed, **{s['critical_failed']} critical failed**, {s['warnings_failed']} warnings.", "",
           "Rows: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()), ""]
    bad = failing(report)
    if bad:
        out += ["| severity | check | value | threshold | message |", "| --- | --- | --- | --- | --- |"]
        out += [f"| {c['severity']} | {c['name']} | {c['value']} | {c['threshold']} | {c['message'].replace('|', '/')} |" for c in bad]
    out += ["", f"Full report: `{report['inputs'].get('out_dir', '.')}/quality/latest.html`"]
    return "\n".join(out)


def check_rows(report: dict) -> list[dict]:
    """The checks as flat rows, for a Prefect table artifact."""
    return [{"check": c["name"], "severity": c["severity"], "status": "pass" if c["passed"] else "FAIL",
             "value": c["value"], "threshold": c["threshold"], "message": c["message"], "sample_ids": ", ".join(c["sample_ids"])}
            for c in report["checks"]]

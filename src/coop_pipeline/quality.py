"""Quality stage: checks computed from the tables a run wrote, each critical or a warning.

The checks read the committed tables back (`Store`), not what the code meant to write, so a bug in
any stage, a hand-edited Parquet file or a half-merged branch shows up here. They combine summaries
of the Parquet parts, each computed once (`quality_parts`), so a report costs what its run wrote
and reads a part again only to name offending rows. `build_report` returns
a JSON-ready dict (verdict, inputs, row counts, checks, chart data); `write_report` puts it in
OUT/quality/ as JSON and a self-contained HTML page, keeping earlier runs' reports beside it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from coop_pipeline import __version__
from coop_pipeline.config import Settings
from coop_pipeline.errors import ConfigError, StoreError
from coop_pipeline.quality_parts import COMPOSITE_KEYS, DONE, REFERENCES, PartCache, PartSummary, TableParts, contains, first_ids, hashes, key_columns, record_id
from coop_pipeline.schemas import MODELS, PRIMARY_KEYS, columns
from coop_pipeline.store import TABLES, Store

REPORT_VERSION = 1
KEEP_REPORTS = 500  # earlier reports kept in OUT/quality/ (an hourly schedule keeps three weeks)


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
Summaries = dict[str, TableParts]  # every contract table's part summaries, combined


def read_small(store: Store, table: str, cols: list[str] | None) -> pd.DataFrame:
    """The columns the checks need of a table of one row per run or raw file (a table that is not
    readable, or lacks a column, reads as missing: the schema check says why)."""
    try:
        return store.read(table, columns=cols)
    except Exception:  # unreadable or missing columns: counted by check_schema
        return pd.DataFrame(columns=cols or columns(table))


def _sample(values: object, n: int) -> tuple[str, ...]:
    return tuple(first_ids(values, n))


def _read(part: PartSummary, cols: list[str]) -> pd.DataFrame:
    """Columns of one part, read again to name offending rows."""
    return pq.read_table(part.path, columns=list(dict.fromkeys(cols))).to_pandas()


# -- critical checks --------------------------------------------------------------------------
def check_schema(parts: TableParts, t: QualityThresholds) -> Check:
    """Every part of the table validated with its pandera model (once per part: see quality_parts)."""
    table = parts.table
    bad = sum(p.schema["bad"] for p in parts.all)
    rows = sum(p.rows for p in parts.all)
    failures = {f for p in parts.all for f in p.schema["failures"]}
    samples = [s for p in parts.all for s in p.schema["samples"]]
    detail = "; ".join(sorted(failures)[:6])
    message = f"{bad} of {rows} rows violate the {MODELS[table].__name__} schema ({detail})" if bad else f"{rows} rows valid"
    return Check(f"schema.{table}", "schema", "critical", bad == 0, bad, 0, message, _sample(samples, t.sample_size), bad)


def check_duplicates(parts: TableParts, t: QualityThresholds) -> Check:
    """Primary ids (or composite keys) on more than one row: rows whose key hash repeats are read
    again and compared by their real keys."""
    table, keys = parts.table, key_columns(parts.table)
    wanted, frames = parts.repeated_keys(), []
    for part in parts.parts if len(wanted) else []:
        hit = contains(wanted, part.keys())
        if hit.any():
            frames.append(_read(part, keys)[hit])
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=keys)
    dup = df[df.duplicated(keys, keep=False)] if len(df) else df
    ids = dup[keys].astype(str).agg("/".join, axis=1) if len(dup) else pd.Series([], dtype=str)
    n = int(ids.nunique())
    message = f"{n} duplicated {'/'.join(keys)} over {len(dup)} rows" if n else f"{parts.rows} rows, all {'/'.join(keys)} distinct"
    return Check(f"duplicates.{table}", "duplicates", "critical", n == 0, n, 0, message, _sample(ids, t.sample_size), n)


def check_references(parts: TableParts, tables: Summaries, t: QualityThresholds) -> Check:
    """Rows pointing to an article, entity or event that the referenced table does not hold. Only
    parts with an id that resolves to nothing are read again, to name their rows."""
    table, refs, rid = parts.table, REFERENCES[parts.table], record_id(parts.table)
    found, broken = [], []
    for part in parts.parts:
        if all(contains(tables[target].ids(), part.arrays[f"ref.{col}"]).all() for col, target in refs):
            continue
        df = _read(part, [rid] + [col for col, _ in refs])
        orphan = pd.DataFrame({col: df[col].notna().to_numpy() & ~contains(tables[target].ids(), hashes(df[col])) for col, target in refs})
        hit = orphan.any(axis=1).to_numpy()
        found.append(df[hit])
        broken.append(orphan[hit])
    df = pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=[rid])
    orphans = pd.concat(broken, ignore_index=True) if broken else pd.DataFrame()
    offending, missing, notes = set(), [], []
    for col, target in refs:
        orphan = orphans[col].to_numpy() if col in orphans else np.zeros(len(df), dtype=bool)
        if orphan.any():
            offending |= set(df.loc[orphan, rid].astype(str))
            missing += list(df[col][orphan].astype(str))
            notes.append(f"{int(orphan.sum())} {col} not in {target}")
    n = len(offending)
    if n:
        message = f"{n} rows with broken references: {', '.join(notes)} (e.g. {', '.join(_sample(missing, 3))})"
    else:
        message = f"{parts.rows} rows, every reference resolves"
    return Check(f"references.{table}", "references", "critical", n == 0, n, 0, message, _sample(sorted(offending), t.sample_size), n)


def check_empty_output(tables: Summaries, files: pd.DataFrame, t: QualityThresholds) -> list[Check]:
    """Raw files in but no article out; articles in but no entity, mention or event out."""
    n_files, n_articles = len(files), tables["articles"].rows
    lost = n_files > 0 and n_articles == 0
    checks = [
        Check("empty_output.articles", "completeness", "critical", not lost, n_articles, 1 if n_files else 0,
              f"{n_files} raw files but no article" if lost else f"{n_files} raw files, {n_articles} articles", comparison=">=")
    ]
    empty = [name for name in ("entities", "mentions", "events") if n_articles and not tables[name].rows]
    enforced = n_articles >= t.min_articles_for_empty_output
    note = "" if enforced or not empty else f" (critical from {t.min_articles_for_empty_output} articles)"
    checks.append(
        Check("empty_output.extraction", "completeness", "critical" if enforced else "warning", not empty, len(empty), 0,
              (f"{n_articles} articles but no rows in {', '.join(empty)}{note}" if empty else f"{n_articles} articles; entities, mentions and events written"),
              tuple(empty), len(empty))
    )
    return checks


def check_quarantine_rate(files: pd.DataFrame, t: QualityThresholds) -> Check:
    """Share of the raw files that ended in quarantine."""
    bad = files[files["outcome"] == "quarantined"]["source_path"]
    rate = len(bad) / len(files) if len(files) else 0.0
    enforced = len(files) >= t.min_files_for_quarantine_rate
    note = "" if enforced else f" (critical from {t.min_files_for_quarantine_rate} files)"
    return Check("quarantine_rate", "quarantine", "critical" if enforced else "warning", rate <= t.quarantine_rate, round(rate, 4), t.quarantine_rate,
                 f"{len(bad)} of {len(files)} raw files quarantined{note}", _sample(sorted(bad), t.sample_size), len(bad))


# -- warnings ---------------------------------------------------------------------------------
def _null_check(name: str, nulls: tuple[int, int, list[str]], threshold: float, what: str, t: QualityThresholds) -> Check:
    missing, of, ids = nulls
    rate = round(missing / of, 4) if of else None  # no rows: nothing to judge
    message = f"{missing} of {of} {what} are null" if of else f"no {what}"
    return Check(f"null_rate.{name}", "nulls", "warning", rate is None or rate <= threshold, rate, threshold, message, _sample(ids, t.sample_size), missing)


def null_rate_checks(tables: Summaries, t: QualityThresholds) -> list[Check]:
    ev, art, ent = tables["events"], tables["articles"], tables["entities"]
    source, target = ev.nulls("source_country"), ev.nulls("target_country")
    actor_country = (source[0] + target[0], source[1] + target[1], source[2] + target[2])
    return [
        _null_check("actor_country", actor_country, t.null_actor_country, "event actors' countries", t),
        _null_check("entity_country", ent.nulls("entity_country"), t.null_entity_country, "person, organization and place countries", t),
        _null_check("event_date", ev.nulls("event_date"), t.null_event_date, "event dates", t),
        _null_check("publisher", art.nulls("publisher"), t.null_publisher, "article publishers", t),
        _null_check("title", art.nulls("title"), t.null_title, "article titles", t),
    ]


def coverage_checks(tables: Summaries, t: QualityThresholds) -> list[Check]:
    """Articles from which no entity (mention) or no event was extracted."""
    articles = tables["articles"]
    checks = (("entities", "mentions", t.articles_without_entities), ("events", "events", t.articles_without_events))
    covered = {name: tables[table].distinct("ref.article_id") for name, table, _ in checks}
    lacking = {name: 0 for name in covered}
    samples: dict[str, list[str]] = {name: [] for name in covered}
    for part in articles.parts:
        keys = part.keys()
        for name, having in covered.items():
            mask = ~contains(having, keys)
            lacking[name] += int(mask.sum())
            if mask.any() and len(samples[name]) < t.sample_size:
                samples[name] = first_ids(samples[name] + list(_read(part, ["article_id"])["article_id"][mask]), t.sample_size)
    out = []
    for name, _, threshold in checks:
        rate = lacking[name] / articles.rows if articles.rows else 0.0
        out.append(Check(f"articles_without_{name}", "coverage", "warning", rate <= threshold, round(rate, 4), threshold,
                         f"{lacking[name]} of {articles.rows} articles have no {'entity' if name == 'entities' else 'event'}", tuple(samples[name]), lacking[name]))
    return out


def _type_mix(events: TableParts) -> dict[str, float]:
    counts = events.value_counts("event_type")
    total = counts.sum()
    return {str(k): float(v) / total for k, v in counts.items()} if total else {}


def drift_checks(tables: Summaries, previous: dict | None, t: QualityThresholds) -> list[Check]:
    """Events per article and the event-type mix against the previous run's report."""
    n_art, n_ev = tables["articles"].rows, tables["events"].rows
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


def _day(date: dt.date) -> int:
    return int(np.datetime64(date, "D").astype(np.int64))


def _rows_of_days(days: np.ndarray, keep: np.ndarray) -> int:
    return int(days[keep, 1].sum())


def _dated_ids(parts: TableParts, days: str, id_col: str, date_col: str, found: list[str], n: int,
               after: dt.date | None = None, before: dt.date | None = None, done_only: bool = False) -> list[str]:
    """`found`, then the ids of rows dated after `after` (or before `before`), part by part until
    there are `n`: only the parts whose day counts (`days`) hold such a date are read. With
    `done_only`, only acts reported as done count (a planned meeting next month is no error)."""
    for part in parts.parts:
        if len(found) >= n:
            break
        day = part.arrays[f"days.{days}"][:, 0]
        if not ((day > _day(after)).any() if after else (day < _day(before)).any()):
            continue
        df = _read(part, [id_col, date_col, "status"] if done_only else [id_col, date_col])
        when = pd.to_datetime(df[date_col], errors="coerce")
        hit = when.notna() & ((when > pd.Timestamp(after)) if after else (when < pd.Timestamp(before)))
        if done_only:
            hit &= df["status"].isin(DONE)
        found = first_ids(found + list(df[id_col][hit]), n)
    return found


def date_checks(tables: Summaries, t: QualityThresholds, today: dt.date) -> list[Check]:
    """Dates after today (for acts reported as done) or before the space age."""
    art, ev = tables["articles"], tables["events"]
    horizon = today + dt.timedelta(days=t.future_days)
    late, first = _day(horizon), _day(t.earliest_date)
    pub, when, done = art.days("published_date"), ev.days("event_date"), ev.days("done")
    n_future = _rows_of_days(pub, pub[:, 0] > late) + _rows_of_days(done, done[:, 0] > late)
    n_early = _rows_of_days(pub, pub[:, 0] < first) + _rows_of_days(when, when[:, 0] < first)
    n_dates = int(pub[:, 1].sum() + when[:, 1].sum())
    n, future, early = t.sample_size, [], []
    if n_future:
        future = _dated_ids(art, "published_date", "article_id", "published_date", [], n, after=horizon)
        future = _dated_ids(ev, "done", "event_id", "event_date", future, n, after=horizon, done_only=True)
    if n_early:
        early = _dated_ids(art, "published_date", "article_id", "published_date", [], n, before=t.earliest_date)
        early = _dated_ids(ev, "event_date", "event_id", "event_date", early, n, before=t.earliest_date)
    return [
        Check("dates.future", "dates", "warning", not n_future, n_future, 0,
              f"{n_future} of {n_dates} dates after {horizon.isoformat()} (publication dates; dates of occurred or ongoing events)", tuple(future), n_future),
        Check("dates.before_1957", "dates", "warning", not n_early, n_early, 0,
              f"{n_early} of {n_dates} dates before {t.earliest_date.isoformat()}", tuple(early), n_early),
    ]


# -- chart data -------------------------------------------------------------------------------
def _by_period(days: np.ndarray, first: dt.date, last: dt.date) -> dict[str, int]:
    """Counts per month, or per year when the dates span more than six years; dates outside
    [first, last] are left out (the date checks report them) so one typo cannot flatten the chart.
    `days` is [[day, rows], ...] in day order."""
    d = days[(days[:, 0] >= _day(first)) & (days[:, 0] <= _day(last))]
    if not len(d):
        return {}
    unit = "Y" if d[-1, 0] - d[0, 0] > 6 * 366 else "M"
    periods = d[:, 0].astype("datetime64[D]").astype(f"datetime64[{unit}]").astype(np.int64)
    counts = np.bincount(periods - periods[0], weights=d[:, 1]).astype(np.int64)
    return {str(np.datetime64(int(periods[0] + i), unit)): int(c) for i, c in enumerate(counts)}


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


def chart_data(tables: Summaries, runs: pd.DataFrame, checks: list[Check], t: QualityThresholds, today: dt.date) -> dict:
    ev, art = tables["events"], tables["articles"]
    span = (t.earliest_date, today + dt.timedelta(days=t.future_days))
    by_ts = sorted(ev.ordered_counts("type_status").items())
    return {
        "events_per_article": round(ev.rows / art.rows, 4) if art.rows else 0.0,
        "event_type_mix": _type_mix(ev),
        "events_by_type_status": [{"event_type": str(k[0]), "status": str(k[1]), "n": int(v)} for k, v in by_ts],
        "events_by_period": _by_period(ev.days("event_date"), *span),
        "articles_by_period": _by_period(art.days("published_date"), *span),
        "entities_by_type": {str(k): int(v) for k, v in tables["entities"].value_counts("entity_type").items()},
        "country_pairs": {str(k): int(v) for k, v in ev.value_counts("country_pairs").head(10).items()},
        "quarantine_reasons": {str(k): int(v) for k, v in tables["quarantine"].value_counts("reason").head(12).items()},
        "null_rates": [{"name": c.name.split(".", 1)[1], "value": c.value, "threshold": c.threshold, "passed": c.passed} for c in checks if c.category == "nulls"],
        "trend": _trend(runs),
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
    runs = read_small(store, "runs", None)
    files = read_small(store, "files", ["source_path", "outcome"])
    if run_id is None and len(runs):
        run_id = str(runs.sort_values("started_at")["run_id"].iloc[-1])
    run_id = run_id or "no-run"
    if previous is None:
        previous = previous_report(settings.out_dir, run_id)
    today = today or dt.datetime.now(dt.timezone.utc).date()
    cache = PartCache(store, t.sample_size)
    tables = {table: cache.table(table) for table in TABLES}
    cache.prune()
    keyed = (*[k for k in PRIMARY_KEYS if k in TABLES], *COMPOSITE_KEYS)
    checks = [check_schema(tables[table], t) for table in TABLES]
    checks += [check_duplicates(tables[table], t) for table in keyed]
    checks += [check_references(tables[table], tables, t) for table in REFERENCES]
    checks += check_empty_output(tables, files, t)
    checks.append(check_quarantine_rate(files, t))
    checks += null_rate_checks(tables, t) + coverage_checks(tables, t) + drift_checks(tables, previous, t) + date_checks(tables, t, today)
    row = runs[runs["run_id"] == run_id]
    inputs = {"raw_dir": str(settings.raw_dir), "out_dir": str(settings.out_dir)}
    if len(row):
        r = row.iloc[0]
        inputs.update({k: _plain(r[k]) for k in ("mode", "status", "started_at", "finished_at", "files_seen", "files_new", "files_changed", "files_unchanged", "files_removed", "quarantined", "flow_run_id")})
    counts = {table: tables[table].stored_rows for table in TABLES}
    counts["files"] = len(files)
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
        "stats": chart_data(tables, runs, checks, t, today),
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


def _part_cache(settings: Settings) -> PartCache:
    return PartCache(Store(settings.out_dir), QualityThresholds.from_settings(settings).sample_size)


def summarise_staged(settings: Settings, parts: dict[str, Path | None]) -> None:
    """Summarise the parts a batch has just staged ({table: part}), for the report after the commit.
    The commit links a staged part into its table unchanged (the same file, so the same summary), and
    the batches run on every core: this takes most of the report's work off the serial end of a run."""
    _part_cache(settings).fill([(table, part) for table, part in parts.items() if part is not None])


def part_names(parts: list[Path]) -> dict[Path, str]:
    """Each part's identity on disk now (its summary's file name), to carry its summary over a rewrite."""
    return {part: PartCache.file_name(part) for part in parts}


def carry_over(settings: Settings, table: str, before: dict[Path, str], column: str) -> None:
    """The summaries of parts rewritten in place only to set `column` (staged events given their
    clusters by the commit), carried over from what they were (`before`, of `part_names`)."""
    cache = _part_cache(settings)
    for part, name in before.items():
        if name and cache.file_name(part) not in ("", name):
            cache.carry_over(table, part, name, column)


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

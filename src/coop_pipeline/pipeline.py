"""The run, as plain functions the Prefect flow wraps in tasks (and tests call directly).

    plan_run      discover raw files, hash them, compare with the last run: what to (re)process
    ingest_step   a batch of raw files -> staged articles + quarantine rows
    dedupe_step   one article per distinct text, across batches and earlier runs
    extract_step  a staged batch of articles -> staged mentions, relationships, events...
    commit_step   merge entities, cluster events, switch every table to its new version, record the run

Batches exchange file paths and small summaries, never the corpus itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from coop_pipeline import __version__, entities, events, quality
from coop_pipeline.config import Settings
from coop_pipeline.extract import OUTPUT_TABLES, Resources, extract_batch
from coop_pipeline.ingest import IngestRules, discover, ingest_batch, quarantine_row
from coop_pipeline.resources import data_checksums
from coop_pipeline.store import Store, write_parquet
from coop_pipeline.validate import validate_table


def new_run_id(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


@dataclass
class Plan:
    """What a run will do; small enough to pass between tasks."""

    run_id: str
    started_at: str
    mode: str
    files: dict[str, tuple[str, int]]  # path -> (sha256, size) of every raw file now
    to_process: list[str]
    deleted_paths: list[str]  # paths whose earlier records must go (changed, removed, or all in full mode)
    deleted_articles: list[str]
    counts: dict[str, int] = field(default_factory=dict)


def file_digest(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def plan_run(settings: Settings, store: Store, run_id: str | None = None) -> Plan:
    """Compare the raw directory with the files table of the last run."""
    run_id = run_id or new_run_id()
    now = {}
    for rel in discover(settings.raw_dir, settings.extensions):
        try:
            now[rel] = file_digest(settings.raw_dir / rel)
        except OSError:
            now[rel] = ("0" * 64, 0)  # unreadable: ingest will quarantine it with the reason
    previous = store.read("files")
    before = dict(zip(previous["source_path"], previous["content_sha256"]))
    article_of = {p: a for p, a in zip(previous["source_path"], previous["article_id"]) if isinstance(a, str)}
    new = [p for p in now if p not in before]
    changed = [p for p in now if p in before and before[p] != now[p][0]]
    removed = [p for p in before if p not in now]
    unchanged = [p for p in now if p in before and before[p] == now[p][0]]
    if settings.full:
        to_process, deleted_paths = sorted(now), sorted(set(before) | set(now))
    else:
        touched = set(changed) | set(removed)
        # An article whose file changed or vanished is rebuilt from every path that still holds it.
        hit_articles = {article_of[p] for p in touched if p in article_of}
        siblings = {p for p, a in article_of.items() if a in hit_articles and p in now}
        to_process = sorted(set(new) | set(changed) | siblings)
        deleted_paths = sorted(touched | siblings)
    deleted_articles = sorted({article_of[p] for p in deleted_paths if p in article_of})
    return Plan(
        run_id=run_id,
        started_at=dt.datetime.now(dt.timezone.utc).isoformat(),
        mode="full" if settings.full else "incremental",
        files=now,
        to_process=to_process,
        deleted_paths=deleted_paths,
        deleted_articles=deleted_articles,
        counts={"seen": len(now), "new": len(new), "changed": len(changed), "unchanged": len(unchanged), "removed": len(removed)},
    )


def batches(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def ingest_step(settings: Settings, run_id: str, batch_no: int, paths: list[str], rules: IngestRules | None = None) -> dict:
    """Ingest one batch of raw files into the run's staging area."""
    store = Store(settings.out_dir)
    rules = rules or IngestRules.load()
    articles, quarantine = ingest_batch(settings.raw_dir, paths, settings, rules, run_id)
    valid, rejected = validate_table("articles", articles, run_id)
    quarantine = pd.concat([quarantine, pd.DataFrame(rejected)], ignore_index=True)
    name = f"{run_id}-{batch_no:05d}"
    store.stage(run_id, "articles", name, valid)
    store.stage(run_id, "quarantine", f"{name}-ingest", validate_table("quarantine", quarantine, run_id)[0])
    return {"batch": batch_no, "articles": len(valid), "quarantined": len(quarantine)}


def dedupe_step(settings: Settings, plan: Plan) -> dict:
    """Keep one article per article_id: later copies (in this run or already stored) become
    `duplicate_paths`. Stages the `files` table and returns the staged article parts to extract."""
    store = Store(settings.out_dir)
    deleted = set(plan.deleted_articles)
    existing = store.read("articles", columns=["article_id", "source_path", "duplicate_paths"])
    existing = existing[~existing["article_id"].isin(deleted)]
    canonical: dict[str, dict] = {}  # article_id -> stored row that absorbs duplicates
    for row in existing.itertuples(index=False):
        canonical[row.article_id] = {"source_path": row.source_path, "dups": list(row.duplicate_paths), "stored": True, "changed": False}
    files_rows = []
    parts = store.staged_parts(plan.run_id, "articles")
    for part in parts:
        df = pq.read_table(part).to_pandas()
        keep = []
        for i, row in enumerate(df.itertuples(index=False)):
            paths = [row.source_path, *row.duplicate_paths]
            first = canonical.get(row.article_id)
            if first is None:
                canonical[row.article_id] = {"source_path": row.source_path, "dups": list(row.duplicate_paths), "stored": False, "changed": False}
                keep.append(i)
                files_rows += [(p, "article" if p == row.source_path else "duplicate", row.article_id) for p in paths]
            else:
                first["dups"].extend(paths)
                first["changed"] = True
                files_rows += [(p, "duplicate", row.article_id) for p in paths]
        if len(keep) < len(df):
            kept = df.iloc[keep].reset_index(drop=True)
            if kept.empty:
                part.unlink()
            else:
                write_parquet("articles", kept, part)
    # Duplicates found inside this run are written into the staged rows; duplicates of stored
    # articles rewrite just those article rows (their mentions and events stay as they are).
    updated_stored = {a: c for a, c in canonical.items() if c["changed"] and c["stored"]}
    staged_dups = {a: c for a, c in canonical.items() if c["changed"] and not c["stored"]}
    for part in store.staged_parts(plan.run_id, "articles"):
        df = pq.read_table(part).to_pandas()
        hit = df["article_id"].isin(staged_dups.keys())
        if hit.any():
            df.loc[hit, "duplicate_paths"] = df.loc[hit, "article_id"].map(lambda a: sorted(set(staged_dups[a]["dups"])))
            write_parquet("articles", df, part)
    if updated_stored:
        rows = store.read("articles", filters=[("article_id", "in", sorted(updated_stored))])
        rows["duplicate_paths"] = rows["article_id"].map(lambda a: sorted(set(updated_stored[a]["dups"])))
        store.stage(plan.run_id, "articles", f"{plan.run_id}-dups", rows)
    quarantined = set()
    for part in store.staged_parts(plan.run_id, "quarantine"):
        quarantined |= set(pq.read_table(part, columns=["source_path"]).column("source_path").to_pylist())
    outcome = {p: (o, a) for p, o, a in files_rows}
    previous = store.read("files")
    previous = previous[~previous["source_path"].isin(set(plan.deleted_paths) | set(plan.to_process))]
    previous = previous[previous["source_path"].isin(plan.files.keys())]
    fresh = []
    for path in plan.to_process:
        sha, size = plan.files[path]
        kind, article_id = outcome.get(path, ("quarantined", None))
        if path in quarantined and path not in outcome:
            kind = "quarantined"
        fresh.append({"source_path": path, "content_sha256": sha, "size": size, "outcome": kind, "article_id": article_id})
    files = pd.concat([previous, pd.DataFrame(fresh)], ignore_index=True) if fresh else previous
    write_parquet("files", files, store.staging_dir(plan.run_id) / "files.parquet")
    to_extract = [str(p) for p in store.staged_parts(plan.run_id, "articles") if not p.name.endswith("-dups.parquet")]
    return {"parts": to_extract, "duplicates_of_stored": sorted(updated_stored)}


def extract_step(settings: Settings, run_id: str, part: str, resources: Resources | None = None) -> dict:
    """Extract, validate and stage the records of one staged batch of articles."""
    store = Store(settings.out_dir)
    resources = resources or Resources.load()
    articles = pq.read_table(part).to_pandas()
    records, quarantine = extract_batch(articles, resources, run_id)
    source_paths = dict(zip(articles["article_id"], articles["source_path"]))
    name = Path(part).stem.removeprefix("part-")
    counts = {}
    for table in OUTPUT_TABLES:
        valid, rejected = validate_table(table, records.get(table), run_id, source_paths)
        quarantine += rejected
        store.stage(run_id, table, name, valid)
        counts[table] = len(valid)
    if quarantine:
        store.stage(run_id, "quarantine", f"{name}-extract", validate_table("quarantine", pd.DataFrame(quarantine), run_id)[0])
    return {"part": part, **counts, "quarantined": len(quarantine)}


def run_row(plan: Plan, status: str, flow_run_id: str | None, rows: dict[str, int] | None = None, quarantined: int = 0, error: str | None = None) -> dict:
    finished = None if status == "running" else pd.Timestamp.now(tz="UTC")
    return {
        "run_id": plan.run_id,
        "started_at": pd.Timestamp(plan.started_at),
        "finished_at": finished,
        "status": status,
        "mode": plan.mode,
        "files_seen": plan.counts["seen"],
        "files_new": plan.counts["new"],
        "files_changed": plan.counts["changed"],
        "files_unchanged": plan.counts["unchanged"],
        "files_removed": plan.counts["removed"],
        "rows_written": json.dumps(rows or {}, sort_keys=True),
        "quarantined": quarantined,
        "pipeline_version": __version__,
        "dictionaries_sha256": json.dumps(data_checksums(), sort_keys=True),
        "flow_run_id": flow_run_id,
        "error": error,
    }


def record_run(store: Store, row: dict) -> None:
    """Insert or update this run's row in `runs` (a tiny table, rewritten whole)."""
    runs = store.read("runs")
    runs = runs[runs["run_id"] != row["run_id"]]
    new = pd.DataFrame([row])
    runs = new if runs.empty else pd.concat([runs, new], ignore_index=True)
    valid, _ = validate_table("runs", runs, row["run_id"])
    store.commit(row["run_id"] + "-record", replace={"runs": valid})


def commit_step(settings: Settings, plan: Plan, flow_run_id: str | None = None) -> dict:
    """Publish everything the run staged, rebuild the dataset-wide tables and record the run."""
    store = Store(settings.out_dir)
    staging = store.staging_dir(plan.run_id)
    files_part = staging / "files.parquet"
    replace = {"files": pq.read_table(files_part).to_pandas()} if files_part.exists() else {}
    dup_articles = set()
    for part in store.staged_parts(plan.run_id, "articles"):
        if part.name.endswith("-dups.parquet"):
            dup_articles |= set(pq.read_table(part, columns=["article_id"]).column("article_id").to_pylist())
    article_keys = set(plan.deleted_articles)
    delete = {
        table: ("article_id", article_keys)
        for table in ("mentions", "entity_observations", "events", "event_participants", "relationships")
    }
    delete["articles"] = ("article_id", article_keys | dup_articles)
    delete["quarantine"] = ("source_path", set(plan.deleted_paths) | set(plan.to_process))
    if settings.full:
        delete["quarantine"] = ("source_path", set(store.read("quarantine", columns=["source_path"])["source_path"]))
    quarantined = sum(pq.ParquetFile(p).metadata.num_rows for p in store.staged_parts(plan.run_id, "quarantine"))
    store.commit(plan.run_id, delete=delete, replace=replace)
    # Dataset-wide tables: one row per entity across all articles, clusters across all events.
    observations = store.read("entity_observations")
    mentions = store.read("mentions", columns=["article_id", "entity_id"])
    merged, _ = validate_table("entities", entities.merge(observations, mentions), plan.run_id)
    replace = {"entities": merged}
    current_events = store.read("events")
    clustered = events.assign_clusters(current_events)
    if not clustered["cluster_id"].equals(current_events["cluster_id"]):
        replace["events"] = clustered
    rows = store.commit(plan.run_id + "-global", replace=replace)
    record_run(store, run_row(plan, "completed", flow_run_id, rows, quarantined))
    return {"rows": rows, "quarantined": quarantined}


def begin_run(settings: Settings, store: Store, run_id: str | None = None, flow_run_id: str | None = None) -> Plan:
    """Recover from an interrupted run, plan this one and record it as running."""
    store.recover()
    runs = store.read("runs")
    stale = runs[runs["status"] == "running"]
    if not stale.empty:  # killed runs: say so in the record
        runs.loc[stale.index, ["status", "error"]] = ["failed", "interrupted before it finished"]
        store.commit("recover-" + uuid.uuid4().hex[:6], replace={"runs": runs})
    plan = plan_run(settings, store, run_id)
    record_run(store, run_row(plan, "running", flow_run_id))
    return plan


def fail_run(settings: Settings, plan: Plan, error: str, flow_run_id: str | None = None) -> None:
    store = Store(settings.out_dir)
    record_run(store, run_row(plan, "failed", flow_run_id, error=error[:500]))


def run_local(settings: Settings) -> dict:
    """The whole run without Prefect, sequentially: for tests and debugging."""
    settings.check_raw_dir()
    store = Store(settings.out_dir)
    with store.lock():
        plan = begin_run(settings, store)
        rules, resources = IngestRules.load(), Resources.load()
        for i, paths in enumerate(batches(plan.to_process, settings.batch_size)):
            ingest_step(settings, plan.run_id, i, paths, rules)
        parts = dedupe_step(settings, plan)["parts"]
        for part in parts:
            extract_step(settings, plan.run_id, part, resources)
        result = commit_step(settings, plan)
        report = quality.run_quality(settings, plan.run_id)
        return {"run_id": plan.run_id, **result, "quality": report["verdict"]}


def plan_to_dict(plan: Plan) -> dict:
    return asdict(plan)


def environment_quiet() -> None:
    """Prefect settings for a quiet, offline run; explicit user settings win."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

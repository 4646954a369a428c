"""The run, as plain functions the Prefect flow wraps in tasks (and tests call directly).

    plan_run      discover raw files, compare them with the last run: what to (re)process
    ingest_step   a batch of raw files -> staged articles + quarantine rows
    dedupe_step   one article per distinct text, across batches and earlier runs
    extract_step  a staged batch of articles -> staged mentions, relationships, events...
    commit_step   merge the touched entities, re-cluster events, switch every table in one step, record the run

Batches exchange file paths and small summaries, never the corpus itself.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import datetime as dt
import functools
import gc
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from coop_pipeline import __version__, incremental, quality
from coop_pipeline.config import Settings
from coop_pipeline.extract import OUTPUT_TABLES, Resources, extract_batch
from coop_pipeline.ingest import IngestRules, ingest_batch
from coop_pipeline.resources import data_checksums
from coop_pipeline.schemas import ALL_MODELS
from coop_pipeline.store import ALL_TABLES, EVERY_ROW, TABLES, Store, write_parquet
from coop_pipeline.validate import drop_orphans, validate_table

PER_ARTICLE_TABLES = ("mentions", "entity_observations", "events", "event_participants", "relationships")


def new_run_id(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


@dataclass
class Plan:
    """What a run will do; small enough to pass between tasks."""

    run_id: str
    started_at: str
    mode: str
    files: pa.Table  # source_path, content_sha256, size, stat_signature of the files to record, by path
    to_process: list[str]
    deleted_paths: list[str]  # paths whose earlier records must go (changed, removed, or all in full mode)
    deleted_articles: list[str]
    restat: list[str] = field(default_factory=list)  # same content, new stat signature: only `files` changes
    counts: dict[str, int] = field(default_factory=dict)


def plan_run(settings: Settings, store: Store, run_id: str | None = None) -> Plan:
    """Compare the raw directory with the files table of the last run."""
    run_id = run_id or new_run_id()
    now, previous = incremental.plan_files(settings, store)
    before = dict(zip(previous["source_path"], previous["content_sha256"]))
    signature_before = dict(zip(previous["source_path"], previous["stat_signature"]))
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
    processed = set(to_process)
    restat = sorted(p for p in unchanged if p not in processed and signature_before.get(p) != now[p][2])
    deleted_articles = sorted({article_of[p] for p in deleted_paths if p in article_of})
    return Plan(
        run_id=run_id,
        started_at=dt.datetime.now(dt.timezone.utc).isoformat(),
        mode="full" if settings.full else "incremental",
        files=_fingerprints(now, sorted(processed.union(restat))),  # only what `files` rows need
        to_process=to_process,
        deleted_paths=deleted_paths,
        deleted_articles=deleted_articles,
        restat=restat,
        counts={"seen": len(now), "new": len(new), "changed": len(changed), "unchanged": len(unchanged), "removed": len(removed)},
    )


def _fingerprints(now: dict[str, tuple[str, int, str | None]], paths: list[str]) -> pa.Table:
    """The fingerprints of `paths` as columns: the plan lives as long as the run, and a dict of
    tuples of strings costs about 470 bytes a file (47 MB at 100,000 files), Arrow columns 150."""
    sha, size, signature = zip(*(now[p] for p in paths)) if paths else ((), (), ())
    return pa.table({"source_path": pa.array(paths, pa.string()), "content_sha256": pa.array(sha, pa.string()),
                     "size": pa.array(size, pa.int64()), "stat_signature": pa.array(signature, pa.string())})


def batches(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


@functools.lru_cache(maxsize=1)
def ingest_rules() -> IngestRules:
    """Loaded once per process (worker processes included), not once per batch."""
    return IngestRules.load()


@functools.lru_cache(maxsize=1)
def extract_resources() -> Resources:
    return Resources.load()


def share_allocator() -> None:
    """Arrow allocates with the C library's malloc, like pandas and numpy, instead of its own pool:
    then memory that one step frees is reused by the next, whichever library it uses. With two
    allocators each keeps what it freed, and a process's peak adds both up (about 110 MiB more for
    the commit or the quality report of 20,000 articles). For the pipeline's own processes only."""
    pa.set_memory_pool(pa.system_memory_pool())


@functools.lru_cache(maxsize=1)
def _libc_trim():
    """glibc's malloc_trim, or None on another C library (musl, macOS): nothing to hand back then."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def release_memory(collect: bool = True) -> None:
    """Hand the memory a serial step freed back to the system before the next step. The plan, the
    dedupe step and the commit build Python objects and Arrow buffers by the hundred thousand; freed,
    they leave holes in the C heap that glibc keeps (it only returns the heap's free top), so the flow
    process's resident memory would only grow from step to step, and with the corpus. Collecting the
    objects held in reference cycles (pandas frames) first, then trimming, gives back 30 to 60 MiB
    after each of these steps at 100,000 articles. A batch only trims (`collect=False`, under a
    millisecond): during extraction the garbage collector runs often enough on its own."""
    if collect:
        gc.collect()
    trim = _libc_trim()
    if trim is not None:
        trim(0)


@functools.lru_cache(maxsize=1)
def warm_up() -> int:
    """Set up a process that runs batches, once, before its first batch: allocator, dictionaries,
    the tables' pandera schemas (built once per process; the first build asks pandera which dataframe
    libraries are installed, which imports Dask's dataframe module where Dask is: about 0.5 s).
    Worker processes call it as they start, the flow process while Prefect's server starts. The
    objects loaded so far (modules, Prefect, dictionaries, compiled patterns: 100,000 to 200,000)
    live as long as the process, so they leave the garbage collector's care: its full passes, which
    extraction's many small objects set off, no longer walk them (4-5% of extraction's CPU), and a
    collection of `release_memory` in the flow process takes microseconds instead of 0.1 s. Once per
    process: a scheduled flow's later runs leave their garbage collectable."""
    share_allocator()
    ingest_rules(), extract_resources()
    for model in ALL_MODELS.values():
        model.to_schema()
    gc.freeze()
    return os.getpid()


def ingest_step(settings: Settings, run_id: str, batch_no: int, paths: list[str], rules: IngestRules | None = None) -> dict:
    """Ingest one batch of raw files into the run's staging area."""
    started = time.perf_counter()
    release_memory(collect=False)  # what the batch before this one freed in this process
    store = Store(settings.out_dir)
    articles, quarantine = ingest_batch(settings.raw_dir, paths, settings, rules or ingest_rules(), run_id)
    valid, rejected = validate_table("articles", articles, run_id)
    quarantine = pd.concat([quarantine, pd.DataFrame(rejected)], ignore_index=True)
    name = f"{run_id}-{batch_no:05d}"
    store.stage(run_id, "articles", name, valid)
    staged = store.stage(run_id, "quarantine", f"{name}-ingest", validate_table("quarantine", quarantine, run_id)[0])
    quality.summarise_staged(settings, {"quarantine": staged})  # the articles in extract_step, once dedupe has settled them
    return {"batch": batch_no, "articles": len(valid), "quarantined": len(quarantine), "seconds": time.perf_counter() - started}


def _staged_ids(store: Store, run_id: str) -> set[str]:
    ids: set[str] = set()
    for part in store.staged_parts(run_id, "articles"):
        ids |= set(pq.read_table(part, columns=["article_id"]).column("article_id").to_pylist())
    return ids


@dataclass(slots=True)
class _Copy:
    """The copy of an article that speaks for it (its first path), and its other paths; one per
    article of the run, so kept small (slots: about a third of a dict's memory)."""

    source_path: str
    dups: list[str]
    stored: bool  # already in the dataset, not staged by this run
    changed: bool = False  # gained or lost a path in this run


def dedupe_step(settings: Settings, plan: Plan) -> dict:
    """Keep one article per article_id, from its first path in sorted order (as a full run would):
    the other copies, in this run or already stored, become `duplicate_paths`. Stages the run's
    `files` rows; returns the staged article parts to extract and the stored articles it replaces.

    Only the stored articles that share an id with this run's articles are read, not the dataset,
    and none on a full run, which replaces them all.
    """
    started = time.perf_counter()
    store = Store(settings.out_dir)
    deleted = set(plan.deleted_articles)
    staged_ids = set() if settings.full else _staged_ids(store, plan.run_id)
    existing = store.read("articles", columns=["article_id", "source_path", "duplicate_paths"], filters=[("article_id", "in", sorted(staged_ids))]) if staged_ids else None
    canonical: dict[str, _Copy] = {}  # article_id -> the row that absorbs the other copies
    if existing is not None:
        for row in existing[~existing["article_id"].isin(deleted)].itertuples(index=False):
            canonical[row.article_id] = _Copy(row.source_path, list(row.duplicate_paths), stored=True)
    taken_over: set[str] = set()  # stored articles whose first path is now one of this run's files
    files_rows = []
    dropped: dict[Path, list[int]] = {}  # staged part -> rows that are copies of an earlier article
    light = ["article_id", "source_path", "duplicate_paths"]  # the texts are not needed to decide
    for part in store.staged_parts(plan.run_id, "articles"):
        df = pq.read_table(part, columns=light).to_pandas()
        for i, row in enumerate(df.itertuples(index=False)):
            paths = [row.source_path, *row.duplicate_paths]
            first = canonical.get(row.article_id)
            if first is None or (first.stored and row.source_path < first.source_path):
                if first is not None:  # the stored copy steps back: this file now speaks for the article
                    taken_over.add(row.article_id)
                    files_rows += [(p, "duplicate", row.article_id) for p in [first.source_path, *first.dups]]
                    paths += [first.source_path, *first.dups]
                canonical[row.article_id] = _Copy(row.source_path, paths[1:], stored=False, changed=first is not None)
                files_rows += [(p, "article" if p == row.source_path else "duplicate", row.article_id) for p in [row.source_path, *row.duplicate_paths]]
            else:
                first.dups.extend(paths)
                first.changed = True
                files_rows += [(p, "duplicate", row.article_id) for p in paths]
                dropped.setdefault(part, []).append(i)
    # Duplicates found inside this run are written into the staged rows; duplicates of stored
    # articles rewrite just those article rows (their mentions and events stay as they are).
    updated_stored = {a: c for a, c in canonical.items() if c.changed and c.stored}
    staged_dups = {a: c for a, c in canonical.items() if c.changed and not c.stored}
    for part in store.staged_parts(plan.run_id, "articles"):
        # Only parts that lose a copy or gain a duplicate path are read whole and rewritten.
        ids = pq.read_table(part, columns=["article_id"]).column("article_id").to_pylist()
        if part not in dropped and not any(a in staged_dups for a in ids):
            continue
        df = pq.read_table(part).to_pandas()
        df = df.drop(index=dropped.get(part, [])).reset_index(drop=True)
        if df.empty:
            part.unlink()
            continue
        hit = df["article_id"].isin(staged_dups.keys())
        if hit.any():
            df.loc[hit, "duplicate_paths"] = df.loc[hit, "article_id"].map(lambda a: sorted(set(staged_dups[a].dups)))
        write_parquet("articles", df, part)
    if updated_stored:
        rows = store.read("articles", filters=[("article_id", "in", sorted(updated_stored))])
        rows["duplicate_paths"] = rows["article_id"].map(lambda a: sorted(set(updated_stored[a].dups)))
        store.stage(plan.run_id, "articles", f"{plan.run_id}-dups", rows)
    _stage_files(store, plan, files_rows)
    to_extract = [str(p) for p in store.staged_parts(plan.run_id, "articles") if not p.name.endswith("-dups.parquet")]
    del canonical, files_rows
    release_memory()
    return {"parts": to_extract, "duplicates_of_stored": sorted(updated_stored), "taken_over": sorted(taken_over), "seconds": time.perf_counter() - started}


def _stage_files(store: Store, plan: Plan, files_rows: list[tuple[str, str, str]]) -> None:
    """The `files` rows this run changes: processed paths, re-stat'ed paths, paths whose outcome moved."""
    outcome = {p: (o, a) for p, o, a in files_rows}
    paths = plan.to_process
    kinds, article_ids = [], []
    for path in paths:
        kind, article_id = outcome.pop(path, ("quarantined", None))  # not an article: quarantined
        kinds.append(kind)
        article_ids.append(article_id)
    processed = plan.files.filter(pc.is_in(plan.files["source_path"], value_set=pa.array(paths, pa.string()))).to_pandas()
    # Both sorted by path: the fingerprints line up with the outcomes.
    rows = [processed.assign(outcome=kinds, article_id=article_ids)[["source_path", "content_sha256", "size", "outcome", "article_id", "stat_signature"]]]
    moved = set(outcome) | set(plan.restat)  # stored paths: new outcome (a copy took over) or new stat
    if moved:
        listed = plan.files.filter(pc.is_in(plan.files["source_path"], value_set=pa.array(sorted(moved), pa.string())))
        signature = dict(zip(listed["source_path"].to_pylist(), listed["stat_signature"].to_pylist()))
        stored = store.read("files", filters=[("source_path", "in", sorted(moved))]).to_dict("records")
        for row in stored:
            path = row["source_path"]
            if path in outcome:
                row["outcome"], row["article_id"] = outcome[path]
            if path in signature:
                row["stat_signature"] = signature[path]
        rows.append(pd.DataFrame(stored))
    store.stage(plan.run_id, "files", plan.run_id, pd.concat(rows, ignore_index=True))


def extract_step(settings: Settings, run_id: str, part: str, resources: Resources | None = None) -> dict:
    """Extract, validate and stage the records of one staged batch of articles."""
    started = time.perf_counter()
    release_memory(collect=False)  # what the batch before this one freed in this process
    store = Store(settings.out_dir)
    articles = pq.read_table(part).to_pandas()
    records, quarantine = extract_batch(articles, resources or extract_resources(), run_id)
    source_paths = dict(zip(articles["article_id"], articles["source_path"]))
    name = Path(part).stem.removeprefix("part-")
    valid = {}
    for table in OUTPUT_TABLES:
        valid[table], rejected = validate_table(table, records.get(table), run_id, source_paths)
        quarantine += rejected
    # A record rejected above must not leave records pointing to it (participants of a rejected event).
    valid, orphans = drop_orphans(valid, set(articles["article_id"]), run_id, source_paths)
    quarantine += orphans
    counts, staged = {}, {"articles": Path(part)}
    for table in OUTPUT_TABLES:
        staged[table] = store.stage(run_id, table, name, valid[table])
        counts[table] = len(valid[table])
    if quarantine:
        staged["quarantine"] = store.stage(run_id, "quarantine", f"{name}-extract", validate_table("quarantine", pd.DataFrame(quarantine), run_id)[0])
    staged.pop("entity_observations")  # not a table of the report
    quality.summarise_staged(settings, staged)
    return {"part": part, **counts, "quarantined": len(quarantine), "seconds": time.perf_counter() - started}


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


def with_run_row(runs: pd.DataFrame, row: dict) -> pd.DataFrame:
    """The `runs` table with this run's row inserted or updated, validated."""
    runs = runs[runs["run_id"] != row["run_id"]]
    new = pd.DataFrame([row])
    runs = new if runs.empty else pd.concat([runs, new], ignore_index=True)
    return validate_table("runs", runs, row["run_id"])[0]


def record_run(store: Store, row: dict) -> None:
    """Insert or update this run's row in `runs` (a tiny table, rewritten whole)."""
    store.commit(row["run_id"] + "-record", replace={"runs": with_run_row(store.read("runs"), row)})


def _deletes(store: Store, plan: Plan, gone: set[str], dedupe: dict, touched: set[str]) -> dict[str, list[tuple[str, set[str]]]]:
    """The stored rows an incremental run replaces, table by table: [(column, keys)...]."""
    delete: dict[str, list[tuple[str, set[str]]]] = {table: [("article_id", gone)] for table in PER_ARTICLE_TABLES}
    delete["articles"] = [("article_id", gone | set(dedupe.get("duplicates_of_stored", [])))]
    # `files` rows go for removed paths and for every path the run staged a new row for.
    delete["files"] = [("source_path", set(plan.deleted_paths))]
    for part in store.staged_parts(plan.run_id, "files"):
        delete["files"].append(("source_path", set(pq.read_table(part, columns=["source_path"]).column("source_path").to_pylist())))
    # A path processed again is new (never quarantined before) or in `deleted_paths` (changed, a sibling).
    delete["quarantine"] = [("source_path", set(plan.deleted_paths))]
    delete["entities"] = delete["entity_tallies"] = [("entity_id", touched)]
    return delete


def commit_step(settings: Settings, plan: Plan, flow_run_id: str | None = None, dedupe: dict | None = None) -> dict:
    """Publish everything the run staged, with the entities and event clusters it touches, in one
    switch, and record the run. A run with nothing to do changes no table but `runs`."""
    started = time.perf_counter()
    store = Store(settings.out_dir)
    dedupe = dedupe or {}
    # Articles whose per-article records go: changed, removed, or now spoken for by another copy
    # (none to name on a full run, which drops every stored row without reading a part).
    gone = set() if settings.full else set(plan.deleted_articles) | set(dedupe.get("taken_over", []))
    # Dataset-wide tables, for just what this run touches (a no-op when it touches nothing).
    touched = incremental.entity_updates(store, plan.run_id, gone, settings.full)
    staged_events = quality.part_names(store.staged_parts(plan.run_id, "events"))  # summarised as they were staged
    renamed = incremental.cluster_updates(store, plan.run_id, gone, settings.full)  # stored events whose cluster changed
    quality.carry_over(settings, "events", staged_events, "cluster_id")  # the staged parts got only their clusters
    if settings.full:
        delete = {table: EVERY_ROW for table in ALL_TABLES if table != "runs"}
    else:
        delete = _deletes(store, plan, gone, dedupe, touched)
    quarantined = sum(pq.ParquetFile(p).metadata.num_rows for p in store.staged_parts(plan.run_id, "quarantine"))
    # The run's `completed` row goes into the same transaction: one atomic switch publishes the data,
    # the dataset-wide tables and the record together, so `runs` says exactly which runs finished.
    tx = store.transaction(plan.run_id)
    tx.apply_staged(delete, update={"events": ("event_id", "cluster_id", renamed)})
    runs = tx.read("runs")
    rows = {table: tx.count(table) for table in TABLES if table != "runs"}
    rows["runs"] = len(runs[runs["run_id"] != plan.run_id]) + 1
    tx.replace("runs", with_run_row(runs, run_row(plan, "completed", flow_run_id, rows, quarantined)))
    rows = tx.publish()
    del renamed, touched, delete, tx
    release_memory()
    return {"rows": rows, "quarantined": quarantined, "seconds": time.perf_counter() - started}


def begin_run(settings: Settings, store: Store, run_id: str | None = None, flow_run_id: str | None = None) -> Plan:
    """Recover from an interrupted run, plan this one and record it as running (stale `running`
    rows of killed runs become `failed` in the same commit)."""
    store.recover()
    plan = plan_run(settings, store, run_id)
    runs = store.read("runs")
    stale = runs["status"] == "running"
    if stale.any():  # killed runs: say so in the record (finished_at stays empty: they never finished)
        runs.loc[stale, "status"] = "failed"
        runs.loc[stale, "error"] = "interrupted before it finished (killed or crashed); its work was discarded"
    store.commit(plan.run_id + "-begin", replace={"runs": with_run_row(runs, run_row(plan, "running", flow_run_id))})
    release_memory()  # of the previous `files` rows the plan was compared with
    return plan


def fail_run(settings: Settings, plan: Plan, error: str, flow_run_id: str | None = None) -> None:
    store = Store(settings.out_dir)
    record_run(store, run_row(plan, "failed", flow_run_id, error=error[:500]))


def run_steps(settings: Settings, store: Store) -> tuple[Plan, dict]:
    """Every step of a run up to its commit, sequentially and without the report: (plan, commit result).
    Call it holding the output's writer lock."""
    plan = begin_run(settings, store)
    for i, paths in enumerate(batches(plan.to_process, settings.batch_size)):
        ingest_step(settings, plan.run_id, i, paths)
    dedupe = dedupe_step(settings, plan)
    for part in dedupe["parts"]:
        extract_step(settings, plan.run_id, part)
    return plan, commit_step(settings, plan, dedupe=dedupe)


def run_local(settings: Settings, lock_wait: float = 0.0) -> dict:
    """The whole run without Prefect, sequentially: for tests and debugging."""
    settings.check_raw_dir()
    store = Store(settings.out_dir)
    with store.lock(lock_wait):
        plan, result = run_steps(settings, store)
        report = quality.run_quality(settings, plan.run_id)
        return {"run_id": plan.run_id, **result, "quality": report["verdict"]}

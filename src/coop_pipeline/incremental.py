"""Incremental runs: what changed in raw/, and the dataset-wide tables updated for just that.

`plan_files` compares the raw directory with the `files` table: a file whose size, mtime, ctime and
inode are those recorded is not read again; any other file is hashed, and only a different hash
makes it changed. `global_updates` recomputes the entities and event clusters that the run's added or
removed articles touch, reading only the rows of those entities and the columns clustering needs,
so an incremental run costs what changed, and its output equals a `--full` run over the same files.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from coop_pipeline import entities, events
from coop_pipeline.config import Settings
from coop_pipeline.ingest import discover
from coop_pipeline.store import Store, write_parquet
from coop_pipeline.validate import validate_table

UNREADABLE = "0" * 64  # hash recorded for a file that cannot be read; ingest quarantines it
RACY_SECONDS = 2  # a file modified this recently may change again within the clock's granularity
EVIDENCE_COLUMNS = ("sentence", "trigger")  # clustering never needs the evidence text


def file_digest(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def stat_signature(st: os.stat_result, now_ns: int) -> str | None:
    """What must stay equal for a file to be trusted unchanged without reading it.

    ctime cannot be set by tools that preserve mtime (cp -p, rsync -t), so a rewrite with the same
    size and mtime is still seen. A file modified in the last seconds gets no signature and is hashed
    again next time (git's "racy clean" rule).
    """
    if now_ns - st.st_mtime_ns < RACY_SECONDS * 1_000_000_000:
        return None
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"


def plan_files(settings: Settings, store: Store) -> tuple[dict[str, tuple[str, int, str | None]], pd.DataFrame]:
    """Every raw file now as path -> (sha256, size, stat signature), and the previous `files` rows."""
    previous = store.read("files")
    known = {p: (sha, sig) for p, sha, sig in zip(previous["source_path"], previous["content_sha256"], previous["stat_signature"])}
    now_ns = time.time_ns()
    files: dict[str, tuple[str, int, str | None]] = {}
    for rel in discover(settings.raw_dir, settings.extensions):
        path = settings.raw_dir / rel
        try:
            st = path.stat()
            signature = stat_signature(st, now_ns)
            before = known.get(rel)
            if not settings.full and before and signature and before[1] == signature:
                files[rel] = (before[0], st.st_size, signature)  # trusted unchanged: not read
                continue
            files[rel] = (*file_digest(path), signature)
        except OSError:
            files[rel] = (UNREADABLE, 0, None)
    return files, previous


# -- dataset-wide tables -------------------------------------------------------------------------
def _rows(store: Store, run_id: str, table: str, gone: set[str], columns: list[str] | None = None, filters=None) -> pd.DataFrame:
    """Rows of `table` as they will be after this run commits: current rows of articles still
    there, plus the run's staged rows."""
    current = store.read(table, columns=columns, filters=filters)
    if gone and "article_id" in current.columns:
        current = current[~current["article_id"].isin(gone)]
    frames = [current] if not current.empty else []
    for part in store.staged_parts(run_id, table):
        staged = pq.read_table(part, columns=columns, filters=filters).to_pandas()
        if not staged.empty:
            frames.append(staged)
    if not frames:
        return current.reset_index(drop=True)
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)


def _ids(store: Store, run_id: str, table: str, column: str, gone: set[str]) -> set[str]:
    """Values of `column` in the rows this run removes (of articles in `gone`) or adds."""
    found: set[str] = set()
    if gone:
        current = store.read(table, columns=["article_id", column], filters=[("article_id", "in", sorted(gone))])
        found |= set(current[column].dropna())
    for part in store.staged_parts(run_id, table):
        found |= set(pq.read_table(part, columns=[column]).column(column).drop_null().to_pylist())
    return found


def entity_updates(store: Store, run_id: str, gone: set[str]) -> set[str]:
    """Stage the merged rows of every entity the run touches; returns those entity ids (to delete)."""
    affected = _ids(store, run_id, "entity_observations", "entity_id", gone) | _ids(store, run_id, "mentions", "entity_id", gone)
    if not affected:
        return set()
    keys = [("entity_id", "in", sorted(affected))]
    observations = _rows(store, run_id, "entity_observations", gone, filters=keys)
    mentions = _rows(store, run_id, "mentions", gone, columns=["article_id", "entity_id"], filters=keys)
    merged, _ = validate_table("entities", entities.merge(observations, mentions), run_id)
    store.stage(run_id, "entities", f"{run_id}-merge", merged)
    return affected


def cluster_updates(store: Store, run_id: str, gone: set[str], columns: list[str]) -> set[str]:
    """Give every event its cluster after this run; stored events whose cluster changed are staged
    again (returns their ids, to delete), staged ones are updated in place. Nothing happens when
    the run neither adds nor removes events."""
    staged_parts = store.staged_parts(run_id, "events")
    removed = bool(gone) and not store.read("events", columns=["article_id"], filters=[("article_id", "in", sorted(gone))]).empty
    if not staged_parts and not removed:
        return set()
    light = [c for c in columns if c not in EVIDENCE_COLUMNS]
    current = store.read("events", columns=light)
    if gone:
        current = current[~current["article_id"].isin(gone)]
    staged = [pq.read_table(p, columns=light).to_pandas() for p in staged_parts]
    frames = [f for f in [current, *staged] if not f.empty]
    if not frames:
        return set()
    clustered = events.assign_clusters(pd.concat(frames, ignore_index=True))
    cluster_of = dict(zip(clustered["event_id"], clustered["cluster_id"]))
    changed = current.loc[current["cluster_id"] != current["event_id"].map(cluster_of), "event_id"]
    if not changed.empty:
        rows = store.read("events", filters=[("event_id", "in", sorted(changed))])
        rows["cluster_id"] = rows["event_id"].map(cluster_of)
        store.stage(run_id, "events", f"{run_id}-clusters", rows)
    for part in staged_parts:
        df = pq.read_table(part).to_pandas()
        new = df["event_id"].map(cluster_of)
        if not new.equals(df["cluster_id"]):
            df["cluster_id"] = new
            write_parquet("events", df, part)
    return set(changed)

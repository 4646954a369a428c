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
import stat
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from coop_pipeline import entities, events
from coop_pipeline.config import Settings
from coop_pipeline.errors import IngestError
from coop_pipeline.ingest import check_source, discover, fingerprint, raw_path
from coop_pipeline.store import Store, write_parquet
from coop_pipeline.validate import validate_table

UNREADABLE = "0" * 64  # hash recorded for a file that cannot be read; ingest quarantines it
RACY_SECONDS = 2  # a file modified this recently may change again within the clock's granularity
# What event_clusters.assign_clusters reads of an event (its key, date, place, status, article), and
# the cluster id to compare; a column it needs and does not get fails loudly (itertuples).
CLUSTER_COLUMNS = ["event_id", "article_id", "event_type", "source_country", "target_country", "negated",
                   "event_date", "date_precision", "status", "location_entity_id", "cluster_id"]


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
        path = os.path.join(settings.raw_dir, rel)
        st = _regular_file(path)  # the common case in one system call: a plain file, no link
        if st is None:
            path = raw_path(settings.raw_dir, rel)
            try:
                check_source(settings.raw_dir, rel)  # links out of raw/ and pipes are not read, not even hashed
            except IngestError:
                files[rel] = (*fingerprint(settings.raw_dir, rel), None)
                continue
        try:
            st = st or os.stat(path)
            signature = stat_signature(st, now_ns)
            before = known.get(rel)
            if not settings.full and before and signature and before[1] == signature:
                files[rel] = (before[0], st.st_size, signature)  # trusted unchanged: not read
                continue
            files[rel] = (*file_digest(Path(path)), signature)
        except OSError:
            files[rel] = (UNREADABLE, 0, None)
    return files, previous


def _regular_file(path: str) -> os.stat_result | None:
    """The stat of `path` when it is a regular file and not a link (nothing for ingest to refuse)."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st if stat.S_ISREG(st.st_mode) else None


# -- dataset-wide tables -------------------------------------------------------------------------
def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """String columns as Python objects: the clustering loop iterates them row by row, which
    pandas' Arrow-backed strings make several times slower."""
    strings = [c for c in df.columns if pd.api.types.is_string_dtype(df[c]) and df[c].dtype != object]
    return df.astype({c: object for c in strings}) if strings else df


def cluster_key(table: pa.Table) -> pa.Array:
    """What two events must share to be one real-world event (see event_clusters): type, the set
    of party countries and negation, as one string per row, computed in Arrow. Clusters never
    cross keys, so only the keys a run touches are clustered again."""
    a = pc.fill_null(table["source_country"], "")
    b = pc.fill_null(table["target_country"], "")
    b = pc.if_else(pc.equal(a, b), "", b)  # {KAZ, KAZ} is {KAZ}, like {KAZ, None}
    lo, hi = pc.if_else(pc.less_equal(a, b), a, b), pc.if_else(pc.less_equal(a, b), b, a)
    negated = pc.cast(pc.fill_null(table["negated"], False), pa.string())
    return pc.binary_join_element_wise(table["event_type"], lo, hi, negated, "#")


def _ids(store: Store, run_id: str, table: str, column: str, gone: set[str]) -> set[str]:
    """Values of `column` in the rows this run removes (of articles in `gone`) or adds."""
    found: set[str] = set()
    if gone:
        current = store.read(table, columns=["article_id", column], filters=[("article_id", "in", sorted(gone))])
        found |= set(current[column].dropna())
    for part in store.staged_parts(run_id, table):
        found |= set(pq.read_table(part, columns=[column]).column(column).drop_null().to_pylist())
    return found


OBSERVATIONS_PER_CHUNK = 100_000  # observations merged at once: bounds the commit's memory on full runs


def _parts_after_run(store: Store, run_id: str, table: str, gone: set[str], columns: list[str] | None, entity_ids: list[str]):
    """Each part of `table` as it will be after this run (current parts without the rows of the
    articles in `gone`, then the staged parts), cut down in Arrow to the rows of `entity_ids`."""
    keys = pa.array(entity_ids, pa.string())
    gone_ids = pa.array(sorted(gone), pa.string())
    sources = [(p, False) for p in store.parts(table)] + [(p, True) for p in store.staged_parts(run_id, table)]
    for part, staged in sources:
        rows = pq.read_table(part, columns=columns)
        rows = rows.filter(pc.is_in(rows["entity_id"], value_set=keys))
        if gone and not staged:
            rows = rows.filter(pc.invert(pc.is_in(rows["article_id"], value_set=gone_ids)))
        if rows.num_rows:
            yield rows


def mention_counts(store: Store, run_id: str, gone: set[str], entity_ids: list[str]) -> dict[str, tuple[int, int]]:
    """entity_id -> (mentions, articles) after this run, counted part by part with Arrow.

    Every part holds whole articles (a batch's records stay together), so distinct articles per
    part add up. Only two columns are read, never the mention texts."""
    totals: dict[str, list[int]] = {}
    for table in _parts_after_run(store, run_id, "mentions", gone, ["article_id", "entity_id"], entity_ids):
        grouped = table.group_by("entity_id").aggregate([("article_id", "count"), ("article_id", "count_distinct")])
        for entity_id, n, k in zip(*(grouped[c].to_pylist() for c in ("entity_id", "article_id_count", "article_id_count_distinct"))):
            total = totals.setdefault(entity_id, [0, 0])
            total[0] += n
            total[1] += k
    return {e: (n, k) for e, (n, k) in totals.items()}


def entity_chunks(observations: pa.Table) -> list[list[str]]:
    """The entity ids of `observations`, sorted, in chunks of at most OBSERVATIONS_PER_CHUNK rows
    (an entity with more is a chunk of its own)."""
    grouped = observations.group_by("entity_id").aggregate([("entity_id", "count")]).sort_by("entity_id")
    chunks: list[list[str]] = []
    size = 0
    for entity_id, n in zip(grouped["entity_id"].to_pylist(), grouped["entity_id_count"].to_pylist()):
        if not chunks or size + n > OBSERVATIONS_PER_CHUNK:
            chunks.append([])
            size = 0
        chunks[-1].append(entity_id)
        size += n
    return chunks


def entity_updates(store: Store, run_id: str, gone: set[str]) -> set[str]:
    """Stage the merged rows of every entity the run touches; returns those entity ids (to delete).

    Their observations are read once and kept in Arrow (compact); they are turned into pandas and
    merged a chunk of entities at a time (`entity_chunks`). Mention counts come from
    `mention_counts`, so the mentions themselves are never loaded."""
    affected = _ids(store, run_id, "entity_observations", "entity_id", gone) | _ids(store, run_id, "mentions", "entity_id", gone)
    ordered = sorted(affected)
    parts = list(_parts_after_run(store, run_id, "entity_observations", gone, None, ordered))
    if not parts:
        return affected
    observations = pa.concat_tables(parts)
    counts = mention_counts(store, run_id, gone, ordered)
    for i, chunk in enumerate(entity_chunks(observations)):
        rows = observations.filter(pc.is_in(observations["entity_id"], value_set=pa.array(chunk, pa.string()))).to_pandas()
        # entities.merge counts mentions from the frame it is given; the counts are set from Arrow instead.
        merged = entities.merge(rows, pd.DataFrame({"article_id": pd.Series(dtype=object), "entity_id": pd.Series(dtype=object)}))
        merged["n_mentions"] = [counts.get(e, (0, 0))[0] for e in merged["entity_id"]]
        merged["n_articles"] = [counts.get(e, (0, 0))[1] for e in merged["entity_id"]]
        merged, _ = validate_table("entities", merged, run_id)
        store.stage(run_id, "entities", f"{run_id}-merge-{i:05d}", merged)
    return affected


def cluster_updates(store: Store, run_id: str, gone: set[str], columns: list[str]) -> set[str]:
    """Give every event its cluster after this run; stored events whose cluster changed are staged
    again (returns their ids, to delete), staged ones are updated in place. Nothing happens when
    the run neither adds nor removes events.

    Each part is read once, only the columns clustering needs, and cut down in Arrow to the touched
    keys; then each event type is clustered on its own (clusters never cross types)."""
    light = [c for c in columns if c in CLUSTER_COLUMNS]
    key_columns = ["article_id", "event_type", "source_country", "target_country", "negated"]
    staged_parts = store.staged_parts(run_id, "events")
    gone_ids = pa.array(sorted(gone), pa.string())
    keys: set[str] = set()
    for part in staged_parts:
        keys |= set(cluster_key(pq.read_table(part, columns=key_columns)).to_pylist())
    if gone:
        for part in store.parts("events"):
            table = pq.read_table(part, columns=key_columns)
            keys |= set(cluster_key(table.filter(pc.is_in(table["article_id"], value_set=gone_ids))).to_pylist())
    if not keys:
        return set()
    key_set = pa.array(sorted(keys), pa.string())
    current, staged = [], []
    for part, is_staged in [(p, False) for p in store.parts("events")] + [(p, True) for p in staged_parts]:
        table = pq.read_table(part, columns=light)
        keep = pc.is_in(cluster_key(table), value_set=key_set)
        if gone and not is_staged:
            keep = pc.and_(keep, pc.invert(pc.is_in(table["article_id"], value_set=gone_ids)))
        table = table.filter(keep)
        if table.num_rows:
            (staged if is_staged else current).append(table)
    cluster_of: dict[str, str] = {}
    changed: list[str] = []
    everything = pa.concat_tables(current + staged) if current or staged else None
    if everything is None:
        return set()
    n_current = sum(t.num_rows for t in current)
    is_current = pa.array([True] * n_current + [False] * (everything.num_rows - n_current))
    for event_type in pc.unique(everything["event_type"]).to_pylist():
        mask = pc.equal(everything["event_type"], event_type)
        frame = _plain(everything.filter(mask).to_pandas())
        was_current = is_current.filter(mask).to_numpy(zero_copy_only=False)
        clustered = events.assign_clusters(frame)
        found = dict(zip(clustered["event_id"], clustered["cluster_id"]))
        cluster_of.update(found)
        old = frame[was_current]
        changed += [e for e, c in zip(old["event_id"], old["cluster_id"]) if found.get(e) != c]
    if changed:
        rows = store.read("events", filters=[("event_id", "in", sorted(changed))])
        rows["cluster_id"] = _clusters(rows, cluster_of)
        store.stage(run_id, "events", f"{run_id}-clusters", rows)
    for part in staged_parts:
        df = pq.read_table(part).to_pandas()
        new = _clusters(df, cluster_of)
        if not new.equals(df["cluster_id"]):
            df["cluster_id"] = new
            write_parquet("events", df, part)
    return set(changed)


def _clusters(events: pd.DataFrame, cluster_of: dict[str, str]) -> pd.Series:
    """The cluster id of each event, looked up in a dict (`Series.map` would turn the dict of every
    event into a Series again for each part)."""
    return pd.Series([cluster_of.get(e) for e in events["event_id"]], index=events.index).astype(events["cluster_id"].dtype)

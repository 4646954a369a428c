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

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from coop_pipeline import entities, event_clusters, events
from coop_pipeline.config import Settings
from coop_pipeline.errors import IngestError
from coop_pipeline.ingest import check_source, discover, fingerprint, raw_path
from coop_pipeline.store import Store, write_arrow
from coop_pipeline.validate import validate_table

UNREADABLE = "0" * 64  # hash recorded for a file that cannot be read; ingest quarantines it
RACY_SECONDS = 2  # a file modified this recently may change again within the clock's granularity
# What event_clusters.assign_clusters reads of an event (its key, date, place, article), and
# the cluster id to compare; a column it needs and does not get fails loudly (itertuples).
CLUSTER_COLUMNS = ["event_id", "article_id", "event_type", "source_country", "target_country", "negated",
                   "event_date", "date_precision", "location_entity_id", "cluster_id"]
ROWS_PER_CHUNK = 100_000  # events clustered at once (whole segments): bounds the commit's memory on full runs


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


def _clusterable(rows: pa.Table) -> pa.Array:
    """The events assign_clusters may link to others: a day-precise date and a known party country.
    Every other event is a cluster of its own, whatever the run adds."""
    dated = pc.and_(pc.is_valid(rows["event_date"]), pc.equal(pc.fill_null(rows["date_precision"], ""), "day"))
    return pc.and_(dated, pc.or_(pc.is_valid(rows["source_country"]), pc.is_valid(rows["target_country"])))


def _candidates(store: Store, run_id: str, gone: set[str]) -> tuple[pa.Table | None, list[Path]]:
    """The clusterable events of every current and staged part (light columns only), each with its
    cluster key, day number, part number and row number in its part, and whether it is stored (0),
    staged (1) or removed by this run (2). Also the staged parts, numbered from len(current parts)."""
    current, staged_parts = store.parts("events"), store.staged_parts(run_id, "events")
    gone_ids = pa.array(sorted(gone), pa.string())
    found = []
    for number, part in enumerate(current + staged_parts):
        rows = pq.read_table(part, columns=CLUSTER_COLUMNS)
        rows = rows.append_column("_row", pa.array(np.arange(rows.num_rows, dtype=np.int64)))
        rows = rows.filter(_clusterable(rows))
        if number >= len(current):
            role = pa.array(np.ones(rows.num_rows, dtype=np.int8))
        else:
            role = pc.cast(pc.multiply(pc.cast(pc.is_in(rows["article_id"], value_set=gone_ids), pa.int8()), 2), pa.int8())
        rows = rows.append_column("_part", pa.array(np.full(rows.num_rows, number, dtype=np.int64))).append_column("_role", role)
        rows = rows.append_column("_key", cluster_key(rows)).append_column("_day", pc.cast(rows["event_date"], pa.int32()))
        found.append(rows)
    return (pa.concat_tables(found) if found else None), staged_parts


def touched_segments(rows: pa.Table) -> pa.Table:
    """The rows (sorted by key and date) of the segments that hold a staged or removed event, the
    removed ones left out. A segment is a run of one key's events whose consecutive dates are at
    most CLUSTER_DAYS apart: clusters never span a wider gap (event_clusters), so a segment
    without new or removed events keeps its clusters, and only touched segments are clustered."""
    rows = rows.sort_by([("_key", "ascending"), ("_day", "ascending")])
    days, keys = rows["_day"].to_numpy(), rows["_key"]
    starts = np.ones(len(days), dtype=bool)
    other_key = pc.not_equal(keys.slice(1), keys.slice(0, len(days) - 1)).to_numpy(zero_copy_only=False)
    starts[1:] = other_key | (np.diff(days) > event_clusters.CLUSTER_DAYS)
    segment = np.cumsum(starts)
    touched = np.zeros(segment[-1] + 1 if len(segment) else 1, dtype=bool)
    role = rows["_role"].to_numpy()
    touched[segment[role != 0]] = True
    keep = touched[segment] & (role != 2)
    return rows.filter(pa.array(keep)).append_column("_segment", pa.array(segment[keep]))


def _chunks(segments: np.ndarray, size: int) -> list[slice]:
    """Slices of consecutive rows of at most `size` rows each, never cutting a segment (a segment
    longer than `size` is a chunk of its own)."""
    cuts = [0]
    boundaries = np.flatnonzero(np.diff(segments)) + 1
    for b in boundaries:
        if b - cuts[-1] >= size:
            cuts.append(int(b))
    cuts.append(len(segments))
    return [slice(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


def cluster_updates(store: Store, run_id: str, gone: set[str]) -> dict[str, str]:
    """Give every event its cluster after this run: staged parts are rewritten with their clusters;
    returns the stored events whose cluster changed (event_id -> cluster_id), to update in place.

    Only the segments that the run adds events to or removes events from are clustered again, a
    chunk of whole segments at a time; the dataset's events are read once, the columns clustering
    needs of the events that can join a cluster."""
    if not gone and not store.staged_parts(run_id, "events"):
        return {}
    candidates, staged_parts = _candidates(store, run_id, gone)
    renamed: dict[str, str] = {}
    staged_ids = []  # (part number, row number, cluster id) of the staged events clustered here
    rows = touched_segments(candidates) if candidates is not None and candidates.num_rows else None
    for chunk in _chunks(rows["_segment"].to_numpy(), ROWS_PER_CHUNK) if rows is not None else []:
        part = rows.slice(chunk.start, chunk.stop - chunk.start)
        frame = _plain(part.select(CLUSTER_COLUMNS).to_pandas())
        new = events.assign_clusters(frame)["cluster_id"].to_numpy(dtype=object)
        role = part["_role"].to_numpy()
        stored = (role == 0) & (new != frame["cluster_id"].to_numpy(dtype=object))
        renamed.update(zip(frame["event_id"].to_numpy(dtype=object)[stored], new[stored]))
        is_staged = role == 1
        staged_ids.append(pa.table({"_part": part["_part"].filter(pa.array(is_staged)), "_row": part["_row"].filter(pa.array(is_staged)),
                                    "cluster_id": pa.array(new[is_staged], pa.string())}))
    first_staged = len(store.parts("events"))
    assigned = pa.concat_tables(staged_ids).sort_by("_part") if staged_ids else None
    for number, path in enumerate(staged_parts, start=first_staged):
        _write_clusters(path, _rows_of(assigned, number))
    return renamed


def _rows_of(assigned: pa.Table | None, number: int) -> pa.Table | None:
    """The (row, cluster id) pairs of staged part `number` in `assigned` (sorted by part)."""
    if assigned is None:
        return None
    parts = assigned["_part"].to_numpy()
    lo, hi = np.searchsorted(parts, number, "left"), np.searchsorted(parts, number, "right")
    return assigned.slice(lo, hi - lo) if hi > lo else None


def _write_clusters(path: Path, assigned: pa.Table | None) -> None:
    """Rewrite a staged events part with every row's cluster: those of `assigned` (row -> cluster
    id), and for the others, which join no other event, what assign_clusters gives them alone."""
    rows = pq.read_table(path)
    alone = pa.array(np.ones(rows.num_rows, dtype=bool))
    ids = np.empty(rows.num_rows, dtype=object)
    if assigned is not None:
        positions = assigned["_row"].to_numpy()
        ids[positions] = assigned["cluster_id"].to_numpy(zero_copy_only=False)
        mask = np.ones(rows.num_rows, dtype=bool)
        mask[positions] = False
        alone = pa.array(mask)
    single = rows.select(CLUSTER_COLUMNS).filter(alone)
    if single.num_rows:
        ids[alone.to_numpy(zero_copy_only=False)] = events.assign_clusters(_plain(single.to_pandas()))["cluster_id"].to_numpy(dtype=object)
    column = rows.schema.get_field_index("cluster_id")
    write_arrow(rows.set_column(column, rows.schema.field("cluster_id"), pa.array(ids, pa.string())), path)

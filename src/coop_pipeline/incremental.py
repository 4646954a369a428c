"""Incremental runs: what changed in raw/, and the dataset-wide tables updated for just that.

`plan_files` compares the raw directory with the `files` table: a file whose size, mtime, ctime and
inode are those recorded is not read again; any other file is hashed, and only a different hash
makes it changed. `entity_updates` and `cluster_updates` recompute the entities and event clusters
that the run's added or removed articles touch: entities from their stored tallies plus the tallies
of what the run adds and removes, clusters for the date segments the run adds to or removes from.
So an incremental run costs what changed, and its output equals a `--full` run over the same files.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from coop_pipeline import entity_tallies, event_clusters, events
from coop_pipeline.config import Settings
from coop_pipeline.errors import IngestError
from coop_pipeline.ingest import check_source, discover, fingerprint, raw_path
from coop_pipeline.schemas import arrow_schema
from coop_pipeline.store import Store, map_parts, write_arrow
from coop_pipeline.validate import validate_table

UNREADABLE = "0" * 64  # hash recorded for a file that cannot be read; ingest quarantines it
RACY_SECONDS = 2  # a file modified this recently may change again within the clock's granularity
# What event_clusters.assign_clusters reads of an event (its key, date, place, article), and
# the cluster id to compare; a column it needs and does not get fails loudly (itertuples).
CLUSTER_COLUMNS = ["event_id", "article_id", "event_type", "source_country", "target_country", "negated",
                   "event_date", "date_precision", "location_entity_id", "cluster_id"]
ROWS_PER_CHUNK = 100_000  # entity tallies merged at once: bounds the commit's memory on full runs
EVENTS_PER_CHUNK = 25_000  # events clustered at once (as Python objects, several hundred bytes each)


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


def plan_files(settings: Settings, store: Store) -> tuple[dict[str, tuple[str, int, str | None]], dict[str, list]]:
    """Every raw file now as path -> (sha256, size, stat signature), and the previous `files` rows as
    columns of Python values (pandas hands out the values of an Arrow-backed column one by one about
    fifty times slower than `tolist`: a third of the plan's time at 20,000 files)."""
    previous = {column: values.tolist() for column, values in store.read("files").items()}
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


def _rows(store: Store, run_id: str, table: str, columns: list[str] | None, gone: set[str], kept: bool, staged: bool) -> Iterator[pa.Table]:
    """Each current part of `table` cut down to the rows of the articles in `gone` (kept=False) or
    to the other rows (kept=True; every row when nothing is gone), then the staged parts if `staged`."""
    gone_ids = pa.array(sorted(gone), pa.string())
    for part in store.parts(table) if (kept or gone) else []:
        rows = pq.read_table(part, columns=columns)
        if gone:
            hit = pc.is_in(rows["article_id"], value_set=gone_ids)
            rows = rows.filter(pc.invert(hit) if kept else hit)
        if rows.num_rows:
            yield rows
    for part in store.staged_parts(run_id, table) if staged else []:
        yield pq.read_table(part, columns=columns)


def _tallies(store: Store, run_id: str, gone: set[str], kept: bool, staged: bool) -> Iterator[pa.Table]:
    """The tallies of the observations and mentions that `_rows` selects."""
    for rows in _rows(store, run_id, "entity_observations", None, gone, kept, staged):
        yield entity_tallies.observed(rows)
    for rows in _rows(store, run_id, "mentions", ["article_id", "entity_id"], gone, kept, staged):
        yield entity_tallies.mentioned(rows)


def entity_updates(store: Store, run_id: str, gone: set[str], full: bool) -> set[str]:
    """Stage the tallies and rows of every entity the run touches; returns those entity ids (their
    stored rows and tallies are deleted).

    An incremental run adds the tallies of its staged articles, subtracts those of the articles it
    removes, and adds the result to the stored tallies of the entities this touches: it reads the
    observations and mentions it adds or removes, and the counts of the touched entities, never the
    other articles' observations. A full run, or the first run on an output written before tallies
    were kept, counts every article (part by part, summing as it goes)."""
    rebuild = full or (store.count("entity_tallies") == 0 and store.count("entity_observations") > 0)
    if full:  # every stored article goes: only the staged ones count
        delta = entity_tallies.summed(_tallies(store, run_id, set(), kept=False, staged=True))
    elif rebuild:  # the stored articles that stay, counted afresh, and the staged ones
        delta = entity_tallies.summed(_tallies(store, run_id, gone, kept=True, staged=True))
    else:
        added = _tallies(store, run_id, set(), kept=False, staged=True)
        removed = (entity_tallies.negated(t) for t in _tallies(store, run_id, gone, kept=False, staged=False))
        delta = entity_tallies.summed(itertools.chain(added, removed), changes=True)
    touched = set(pc.unique(delta["entity_id"]).to_pylist())
    if rebuild:
        tallies = delta
        for table in ("entities", "entity_tallies"):
            touched |= set(store.read(table, columns=["entity_id"])["entity_id"])
    else:
        stored = _of_entities(store, "entity_tallies", touched)
        tallies = entity_tallies.summed([stored, delta])
        touched |= set(pc.unique(stored["entity_id"]).to_pylist())
    tallies = tallies.sort_by([("entity_id", "ascending")])
    for i, chunk in enumerate(_chunks(_group_starts(tallies["entity_id"]), ROWS_PER_CHUNK)):
        rows = tallies.slice(chunk.start, chunk.stop - chunk.start).to_pandas()
        store.stage(run_id, "entity_tallies", f"{run_id}-{i:05d}", rows)
        merged, _ = validate_table("entities", entity_tallies.merge(rows), run_id)
        store.stage(run_id, "entities", f"{run_id}-merge-{i:05d}", merged)
    return touched


def _of_entities(store: Store, table: str, entity_ids: set[str]) -> pa.Table:
    """The current rows of `table` whose entity is one of `entity_ids`, in Arrow."""
    keys = pa.array(sorted(entity_ids), pa.string())
    found = [rows.filter(pc.is_in(rows["entity_id"], value_set=keys)) for rows in (pq.read_table(p) for p in store.parts(table))]
    return pa.concat_tables(found).cast(arrow_schema(table)) if found else arrow_schema(table).empty_table()


def _clusterable(rows: pa.Table) -> pa.Array:
    """The events assign_clusters may link to others: a day-precise date and a known party country.
    Every other event is a cluster of its own, whatever the run adds."""
    dated = pc.and_(pc.is_valid(rows["event_date"]), pc.equal(pc.fill_null(rows["date_precision"], ""), "day"))
    return pc.and_(dated, pc.or_(pc.is_valid(rows["source_country"]), pc.is_valid(rows["target_country"])))


def _candidates(store: Store, run_id: str, gone: set[str], full: bool) -> tuple[pa.Table | None, list[Path]]:
    """The clusterable events of every current (unless `full`) and staged part (light columns only),
    each with its cluster key, day number, part number and row number in its part, and whether it is
    stored (0), staged (1) or removed by this run (2). Also the staged parts, numbered after the current ones.
    A staged event's cluster id is left out (null): it gets a new one, and only a stored event's is compared."""
    current, staged_parts = [] if full else store.parts("events"), store.staged_parts(run_id, "events")
    gone_ids = pa.array(sorted(gone), pa.string())

    def read(numbered: tuple[int, Path]) -> pa.Table:
        number, part = numbered
        rows = pq.read_table(part, columns=CLUSTER_COLUMNS)
        rows = rows.append_column("_row", pa.array(np.arange(rows.num_rows, dtype=np.int32)))
        rows = rows.filter(_clusterable(rows))
        if number >= len(current):
            role = pa.array(np.ones(rows.num_rows, dtype=np.int8))
            column = rows.schema.get_field_index("cluster_id")
            rows = rows.set_column(column, rows.schema.field(column), pa.nulls(rows.num_rows, pa.string()))
        else:
            role = pc.cast(pc.multiply(pc.cast(pc.is_in(rows["article_id"], value_set=gone_ids), pa.int8()), 2), pa.int8())
        rows = rows.append_column("_part", pa.array(np.full(rows.num_rows, number, dtype=np.int32))).append_column("_role", role)
        return rows.append_column("_key", cluster_key(rows)).append_column("_day", pc.cast(rows["event_date"], pa.int32()))

    found = map_parts(read, enumerate(current + staged_parts))  # on threads, in part order (see store.map_parts)
    return (pa.concat_tables(found) if found else None), staged_parts


def touched_segments(rows: pa.Table) -> tuple[pa.Array, np.ndarray]:
    """The rows (as indices into `rows`, sorted by key and date) of the segments that hold a staged or
    removed event, the removed ones left out, and the segment number of each. A segment is a run of
    one key's events whose consecutive dates are at most CLUSTER_DAYS apart: clusters never span a
    wider gap (event_clusters), so a segment without new or removed events keeps its clusters, and
    only touched segments are clustered. Indices, not a sorted copy: a chunk's rows are taken when
    it is clustered (a full run touches every segment, and a copy would double the events held)."""
    order = pc.sort_indices(rows, [("_key", "ascending"), ("_day", "ascending")])
    sorted_keys = rows.select(["_key", "_day", "_role"]).take(order)
    starts = _group_starts(sorted_keys["_key"])
    starts[1:] |= np.diff(sorted_keys["_day"].to_numpy()) > event_clusters.CLUSTER_DAYS
    segment = np.cumsum(starts)
    touched = np.zeros(segment[-1] + 1 if len(segment) else 1, dtype=bool)
    role = sorted_keys["_role"].to_numpy()
    touched[segment[role != 0]] = True
    keep = touched[segment] & (role != 2)
    return order.filter(pa.array(keep)), segment[keep]


def _group_starts(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """True where a sorted column's value differs from the row before (a new group starts)."""
    starts = np.ones(len(values), dtype=bool)
    if len(values) > 1:
        starts[1:] = pc.not_equal(values.slice(1), values.slice(0, len(values) - 1)).to_numpy(zero_copy_only=False)
    return starts


def _chunks(starts: np.ndarray, size: int) -> list[slice]:
    """Slices of consecutive rows of at most `size` rows each, cut only where a group starts (a
    group longer than `size` is a chunk of its own)."""
    cuts, previous = [0], 0
    for b in [*(np.flatnonzero(starts[1:]) + 1).tolist(), len(starts)]:  # where each group ends
        if b - cuts[-1] > size and previous > cuts[-1]:
            cuts.append(previous)  # the chunk would grow past `size` with this group: cut before it
        previous = b
    cuts.append(len(starts))
    return [slice(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


def cluster_updates(store: Store, run_id: str, gone: set[str], full: bool = False) -> dict[str, str]:
    """Give every event its cluster after this run: staged parts are rewritten with their clusters;
    returns the stored events whose cluster changed (event_id -> cluster_id), to update in place.

    Only the segments that the run adds events to or removes events from are clustered again, a
    chunk of whole segments at a time; the dataset's events are read once, the columns clustering
    needs of the events that can join a cluster (none on a `full` run, which replaces them all)."""
    if not gone and not store.staged_parts(run_id, "events"):
        return {}
    candidates, staged_parts = _candidates(store, run_id, gone, full)
    renamed: dict[str, str] = {}
    staged_ids = []  # (part number, row number, cluster id) of the staged events clustered here
    order, segment = touched_segments(candidates) if candidates is not None and candidates.num_rows else (None, np.array([], dtype=np.int64))
    for chunk in _chunks(np.diff(segment, prepend=-1) != 0, EVENTS_PER_CHUNK) if len(segment) else []:
        part = candidates.take(order.slice(chunk.start, chunk.stop - chunk.start))
        frame = _plain(part.select(CLUSTER_COLUMNS).to_pandas())
        new = events.assign_clusters(frame)["cluster_id"].to_numpy(dtype=object)
        role = part["_role"].to_numpy()
        stored = (role == 0) & (new != frame["cluster_id"].to_numpy(dtype=object))
        renamed.update(zip(frame["event_id"].to_numpy(dtype=object)[stored], new[stored]))
        is_staged = role == 1
        staged_ids.append(pa.table({"_part": part["_part"].filter(pa.array(is_staged)), "_row": part["_row"].filter(pa.array(is_staged)),
                                    "cluster_id": pa.array(new[is_staged], pa.string())}))
    del candidates, order
    first_staged = 0 if full else len(store.parts("events"))
    assigned = pa.concat_tables(staged_ids).sort_by("_part") if staged_ids else None
    numbers = assigned["_part"].to_numpy() if assigned is not None else np.array([], dtype=np.int64)

    def write(numbered: tuple[int, Path]) -> None:
        number, path = numbered
        lo, hi = np.searchsorted(numbers, number, "left"), np.searchsorted(numbers, number, "right")
        _write_clusters(path, assigned.slice(lo, hi - lo) if hi > lo else None)

    map_parts(write, enumerate(staged_parts, start=first_staged))  # on threads (see store.map_parts)
    return renamed


def _write_clusters(path: Path, assigned: pa.Table | None) -> None:
    """Rewrite a staged events part with every row's cluster: those of `assigned` (row -> cluster
    id), and for the others, which cannot join another event (`_clusterable`), a cluster of their own."""
    rows = pq.read_table(path)
    alone = np.ones(rows.num_rows, dtype=bool)
    ids = np.empty(rows.num_rows, dtype=object)
    if assigned is not None:
        positions = assigned["_row"].to_numpy()
        ids[positions] = assigned["cluster_id"].to_numpy(zero_copy_only=False)
        alone[positions] = False
    event_ids = rows["event_id"].to_numpy(zero_copy_only=False)
    ids[alone] = [event_clusters.cluster_name(e) for e in event_ids[alone]]
    column = rows.schema.get_field_index("cluster_id")
    write_arrow(rows.set_column(column, rows.schema.field("cluster_id"), pa.array(ids, pa.string())), path)

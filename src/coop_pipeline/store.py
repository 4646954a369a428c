"""Store stage: each table a directory of Parquet files that readers can open at any moment.

Layout of the output directory:

    OUT/<table>                          -> _store/current/<table>   (made once, never changes)
    OUT/_store/current                   -> snapshots/<snapshot>     (switched atomically by each commit)
    OUT/_store/snapshots/<snapshot>/<t>  -> ../../<t>/<version>      (one link per table, internal ones too)
    OUT/_store/<table>/<version>/         immutable: part-*.parquet files of one version of a table
    OUT/_store/staging/<run_id>/         parts written by a run's batches before it commits
    OUT/_store/lock                      one writer at a time
    OUT/_store/lineage/<table>/<v>.json  parts version <v> rewrote only to set one column, and from what

A commit builds the next version of each table it changes beside the current one (unchanged parts
are hard-linked, so an incremental commit costs what changed), then a snapshot naming one version of
every table, and publishes that snapshot by renaming one symlink. Every table switches in that one
atomic rename: readers (pandas, pyarrow, DuckDB, Polars) see the tables of one commit or of the next,
never a mix, and a run killed at any moment leaves the last published snapshot whole. What a killed
commit built but did not publish is unreferenced and removed by the next writer (`recover`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import re
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from coop_pipeline.errors import LockError, StoreError
from coop_pipeline.schemas import INTERNAL_MODELS, MODELS, arrow_schema, empty_frame

TABLES = tuple(MODELS)
INTERNAL_TABLES = tuple(INTERNAL_MODELS)  # run state, linked under OUT/_store/current/
ALL_TABLES = TABLES + INTERNAL_TABLES
Deletes = tuple[str, set[str]] | list[tuple[str, set[str]]]  # (column, keys) or several
Update = tuple[str, str, dict[str, str]]  # (key column, column to set, key -> new value)
EVERY_ROW: Deletes = ("*", {"*"})  # delete[table] = EVERY_ROW: the table keeps only the staged rows
SORT_KEYS = {
    "articles": ["article_id"],
    "entities": ["entity_id"],
    "mentions": ["article_id", "start", "end", "entity_id"],
    "events": ["article_id", "start", "event_id"],
    "event_participants": ["article_id", "event_id", "role", "entity_id"],
    "relationships": ["article_id", "start", "relation_id"],
    "quarantine": ["source_path", "stage", "reason", "record_id"],
    "runs": ["started_at", "run_id"],
    "files": ["source_path"],
    "entity_observations": ["article_id", "entity_id"],
    "entity_tallies": ["entity_id", "field", "value", "latitude", "longitude"],
}
_PROCESS_LOCKS: set[str] = set()  # outputs whose writer lock this process holds for its lifetime
# OUT/_store/lineage/<table>/<version>.json: the parts a version rewrote from the previous one only
# to set new values of one column (events whose cluster was renamed), so that what was known of the
# old part (the quality report's summary) can be carried over.
LINEAGE_DIR = "lineage"
KEEP_SNAPSHOTS = 3  # older snapshots and the versions only they use are deleted; open files stay readable
# Threads that read and write a table's parts at once. Arrow reads and writes Parquet in C++ with the
# GIL released, so threads use every core on a commit that rewrites dozens of parts; two per core at
# most, since each holds a part in memory.
PART_THREADS = 2 * (os.cpu_count() or 1)
# Parts that lose rows and keep fewer than this are written as one part. The entities and their
# tallies lose the touched entities' rows from every part at every run and gain a part of merged
# rows: without this, each incremental run added a part that every later run rewrote and the quality
# report summarised again (21 parts of 2 to 700 rows after 21 runs). Low enough that article parts
# (500 rows of text) merged after changed files stay a few MB to rewrite.
SMALL_PART_ROWS = 2_000


def sort_rows(table: str, df: pd.DataFrame) -> pd.DataFrame:
    """Stable row order: the same rows always land in the same order."""
    keys = [k for k in SORT_KEYS.get(table, []) if k in df.columns]
    if not keys or df.empty:
        return df.reset_index(drop=True)
    return df.sort_values(keys, kind="mergesort", na_position="first").reset_index(drop=True)


def to_arrow(table: str, df: pd.DataFrame) -> pa.Table:
    """A frame as an Arrow table with the table's explicit schema."""
    schema = arrow_schema(table)
    df = df[[f.name for f in schema]]
    return pa.Table.from_pandas(df, schema=schema, preserve_index=False)


def write_parquet(table: str, df: pd.DataFrame, path: Path) -> Path:
    """Write atomically: to a temporary name in the same directory, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    pq.write_table(to_arrow(table, sort_rows(table, df)), tmp, compression="zstd")
    _fsync(tmp)
    os.replace(tmp, path)
    return path


def write_arrow(table: pa.Table, path: Path) -> Path:
    """Write rows already in a stored part's schema and order (a part rewritten in Arrow), atomically."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    _fsync(tmp)
    os.replace(tmp, path)
    return path


T, R = TypeVar("T"), TypeVar("R")


def map_parts(function: Callable[[T], R], parts: Iterable[T]) -> list[R]:
    """`function` of each part (a path, or anything naming one), on up to PART_THREADS threads, in
    the parts' order. The first error (in that order) is raised here, after the calls under way have
    ended; the calls not yet started are cancelled."""
    parts = list(parts)
    if len(parts) < 2:
        return [function(part) for part in parts]
    with ThreadPoolExecutor(min(PART_THREADS, len(parts)), thread_name_prefix="coop-parts") as pool:
        return list(pool.map(function, parts))


def rewrite_part(part: Path, deletes: list[tuple[str, pa.Array]], update: tuple[str, str, pa.Array, pa.Array] | None) -> tuple[pa.Table, int] | None:
    """The rows of `part` without those whose column is in `deletes` [(column, keys)...] and with
    `update` (key column, column, keys, values) applied, in Arrow, and the part's row count before;
    None when neither touches the part (then it can be shared as it is). Only the key columns are
    read to decide, the whole part only when it changes."""
    keys = pq.read_table(part, columns=sorted({k for k, _ in deletes} | ({update[0]} if update else set())))
    hit = None
    for key, deleted in deletes:
        found = pc.is_in(keys[key], value_set=deleted)
        hit = found if hit is None else pc.or_(hit, found)
    hit = pc.fill_null(hit, False) if hit is not None else None
    renamed = None
    if update:
        renamed = pc.index_in(keys[update[0]], value_set=update[2])
        if renamed.null_count == len(renamed):
            renamed = None
    if renamed is None and (hit is None or not pc.any(hit).as_py()):
        return None
    rows = pq.read_table(part)
    if renamed is not None:
        column = update[1]
        index = rows.schema.get_field_index(column)
        new = pc.take(update[3], renamed)
        rows = rows.set_column(index, rows.schema.field(column), pc.coalesce(new, rows[column]))
    return (rows.filter(pc.invert(hit)) if hit is not None else rows), keys.num_rows


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Store:
    """The output directory as a set of versioned tables."""

    def __init__(self, out_dir: Path):
        self.out = Path(out_dir)
        self.root = self.out / "_store"
        self.head = self.root / "current"  # the published snapshot

    # -- reading -----------------------------------------------------------------------------
    def table_dir(self, table: str) -> Path:
        """Where readers find a table: the head snapshot's link (the public `OUT/<table>` points to it)."""
        return self.head / table

    def current_version(self, table: str) -> str | None:
        link = self.table_dir(table)
        if not link.is_symlink():
            return None
        return Path(os.readlink(link)).name

    def parts(self, table: str, version: str | None = None) -> list[Path]:
        directory = self.root / table / version if version else self.table_dir(table)
        if not directory.is_dir():
            return []
        return sorted(p for p in directory.iterdir() if p.name.endswith(".parquet") and not p.name.startswith("."))

    def read(self, table: str, columns: list[str] | None = None, filters=None, version: str | None = None) -> pd.DataFrame:
        """The current rows of `table` (or of one `version`); an empty frame with the right columns if none."""
        parts = self.parts(table, version)
        if not parts:
            frame = empty_frame(table)
            return frame[columns] if columns else frame
        data = pq.ParquetDataset([str(p) for p in parts], filters=filters).read(columns=columns)
        return data.to_pandas()

    def count(self, table: str, version: str | None = None) -> int:
        return sum(pq.ParquetFile(p).metadata.num_rows for p in self.parts(table, version))

    # -- locking -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, wait_seconds: float = 0.0, for_process: bool = False) -> Iterator[None]:
        """Hold the writer lock; wait up to `wait_seconds` for it, else raise LockError.

        `for_process=True` holds it for this whole process: later `lock()` calls on the same output in
        this process (the flow the CLI starts) enter at once. The CLI takes the lock before Prefect
        starts, so a refused run costs nothing and says so in one line.
        """
        key = str(self.root.resolve())
        if key in _PROCESS_LOCKS:
            yield
            return
        self.root.mkdir(parents=True, exist_ok=True)
        fh = open(self.root / "lock", "a+")
        deadline = time.monotonic() + wait_seconds
        try:
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        fh.seek(0)
                        holder = fh.read().strip() or "another run"
                        raise LockError(f"{self.out} is being written by {holder}; try again when it has finished") from None
                    time.sleep(0.2)
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()}")
            fh.flush()
            if for_process:
                _PROCESS_LOCKS.add(key)
            yield
        finally:
            if for_process:
                _PROCESS_LOCKS.discard(key)
            fh.close()

    # -- staging -----------------------------------------------------------------------------
    def staging_dir(self, run_id: str) -> Path:
        return self.root / "staging" / run_id

    def stage(self, run_id: str, table: str, name: str, df: pd.DataFrame) -> Path | None:
        """Write one batch's rows of `table` as a staged part; nothing is written for no rows."""
        if df is None or df.empty:
            return None
        return write_parquet(table, df, self.staging_dir(run_id) / table / f"part-{name}.parquet")

    def staged_parts(self, run_id: str, table: str) -> list[Path]:
        directory = self.staging_dir(run_id) / table
        return sorted(directory.glob("part-*.parquet")) if directory.is_dir() else []

    # -- recovery ----------------------------------------------------------------------------
    def recover(self) -> None:
        """Make the output directory whole before a run writes to it (call it holding the lock).

        A killed run can only have left unpublished work behind (staging areas, versions and
        snapshots nobody points to): it is deleted. Every table gets a version (empty if never
        written) and its public link; an output directory of the older layout is converted.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.root / "staging", ignore_errors=True)
        legacy = self._legacy_versions()
        missing = {t: None for t in ALL_TABLES if self.current_version(t) is None}
        if missing or legacy:
            versions = {}
            for table in missing:
                versions[table] = legacy.get(table) or self._empty_version(table)
            self._publish(versions)
        for table in TABLES:
            self._link_public(table)
        for tmp in self.out.glob(".*.link"):  # a link being made when a run was killed
            tmp.unlink(missing_ok=True)
        (self.root / "journal.json").unlink(missing_ok=True)
        self._prune()

    def _legacy_versions(self) -> dict[str, str]:
        """Versions the pre-snapshot layout published (`OUT/<table>` linked straight to a version,
        a half-done switch in `journal.json`), so that an old output directory is taken over whole."""
        found: dict[str, str] = {}
        if self.head.is_dir() and not self.head.is_symlink():  # old: a real dir of internal table links
            for link in self.head.iterdir():
                if link.is_symlink():
                    found[link.name] = Path(os.readlink(link)).name
            shutil.rmtree(self.head)
        for table in TABLES:
            link = self.out / table
            if link.is_symlink() and Path(os.readlink(link)).parent.name == table:
                found[table] = Path(os.readlink(link)).name
        journal = self.root / "journal.json"
        if journal.exists():
            with contextlib.suppress(json.JSONDecodeError):
                found.update(json.loads(journal.read_text()))  # the old commit had begun: roll it forward
        return {t: v for t, v in found.items() if t in ALL_TABLES and (self.root / t / v).is_dir()}

    def _link_public(self, table: str) -> None:
        """`OUT/<table>` -> `_store/current/<table>`: made once; every commit switches the head instead."""
        link = self.out / table
        target = os.path.relpath(self.table_dir(table), self.out)
        if link.is_symlink() and os.readlink(link) == target:
            return
        if link.exists() and not link.is_symlink():
            raise StoreError(f"{link} is a real directory, not a table link written by coop-pipeline")
        tmp = link.with_name(f".{table}.{uuid.uuid4().hex[:6]}.link")
        os.symlink(target, tmp)
        os.replace(tmp, link)

    # -- committing --------------------------------------------------------------------------
    def transaction(self, run_id: str) -> "Transaction":
        """Start building new table versions; nothing is visible until `Transaction.publish()`."""
        return Transaction(self, run_id)

    def commit(self, run_id: str, delete: dict[str, Deletes] | None = None, replace: dict[str, pd.DataFrame] | None = None) -> dict[str, int]:
        """Publish a run's staged parts as the tables' next versions, in one switch.

        `delete[table] = (column, keys)` (or a list of such pairs) drops the current rows whose
        `column` is in `keys`; staged parts are added; tables in `replace` are rewritten whole. A
        table with nothing to do keeps its version. Returns every table's row count.
        """
        tx = self.transaction(run_id)
        tx.apply_staged(delete)
        for table, df in (replace or {}).items():
            tx.replace(table, df)
        return tx.publish()

    def _new_version_dir(self, table: str) -> Path:
        version = self.root / table / f"v{time.time_ns():020d}-{uuid.uuid4().hex[:6]}"
        version.mkdir(parents=True)
        return version

    def _empty_version(self, table: str) -> str:
        version = self._new_version_dir(table)
        write_parquet(table, empty_frame(table), version / "part-empty.parquet")
        return version.name

    def _next_version(self, table: str, base: str | None, staged: list[Path], deletes: list[tuple[str, set[str]]], update: Update | None = None) -> Path:
        """`base` minus the rows matching `deletes` [(column, keys)...], with `update` applied, plus the
        staged parts, as a new version. Only the parts that change are rewritten (in Arrow)."""
        version = self._new_version_dir(table)
        every_row = (EVERY_ROW[0], set(EVERY_ROW[1])) in deletes
        keys = [(column, pa.array(sorted(values), pa.string())) for column, values in deletes]  # built once, not per part
        change = (update[0], update[1], pa.array(list(update[2]), pa.string()), pa.array(list(update[2].values()), pa.string())) if update else None

        def new_name(part: Path) -> str:  # a new name: a file name never stands for two contents
            return f"{part.stem.split('~')[0]}~{uuid.uuid4().hex[:8]}.parquet"

        def carry(part: Path) -> tuple[str, list[str]] | pa.Table | None:
            """Link or rewrite one part into the new version; (new part, [old part, the one column set
            in it]) when only `update` changed it; the rows left, unwritten, of a part that lost rows
            and is now small."""
            rewritten = rewrite_part(part, keys, change)
            if rewritten is None:
                os.link(part, version / part.name)  # unchanged part: shared, not copied
                return None
            rows, before = rewritten
            if not rows.num_rows:
                return None
            if rows.num_rows < before and rows.num_rows < SMALL_PART_ROWS:
                return rows
            name = new_name(part)
            write_arrow(rows, version / name)
            return (name, [f"{base}/{part.name}", update[1]]) if update and rows.num_rows == before else None  # no row deleted

        parts = [] if every_row else [p for p in self.parts(table, base) if p.name != "part-empty.parquet"]
        if deletes or update:
            carried = map_parts(carry, parts)  # in part order
            derived = dict(found for found in carried if isinstance(found, tuple))
            small = [(part, rows) for part, rows in zip(parts, carried) if isinstance(rows, pa.Table)]
            if small:  # one part, not one per run, for a table that loses rows at every run
                write_arrow(pa.concat_tables([rows for _, rows in small]), version / new_name(small[0][0]))
        else:  # nothing to read: every part is shared
            derived = {}
            for part in parts:
                os.link(part, version / part.name)
        if derived:
            self._write_lineage(table, version.name, derived)
        for part in staged:
            target = version / part.name
            if target.exists():  # a later run rewrote an older part of the same name: keep both
                target = version / f"{part.stem}-{uuid.uuid4().hex[:6]}.parquet"
            os.link(part, target)  # linked, not moved: staging stays whole until the commit is published
        if not any(version.iterdir()):
            write_parquet(table, empty_frame(table), version / "part-empty.parquet")
        return version

    def _write_lineage(self, table: str, version: str, derived: dict[str, list[str]]) -> None:
        path = self.root / LINEAGE_DIR / table / f"{version}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_text(json.dumps(derived))
        os.replace(tmp, path)

    def derived_parts(self, table: str, version: str) -> dict[str, tuple[Path, str]]:
        """The parts of `version` rewritten from a part of the version before it only to set new values
        of one column: part name -> (the part it was made from, that column)."""
        try:
            derived = json.loads((self.root / LINEAGE_DIR / table / f"{version}.json").read_text())
        except (OSError, ValueError):
            return {}
        return {name: (self.root / table / source, column) for name, (source, column) in derived.items()}

    def _publish(self, versions: dict[str, str]) -> None:
        """Write a snapshot naming one version of every table and switch the head to it atomically."""
        snapshots = self.root / "snapshots"
        snapshot = snapshots / f"s{time.time_ns():020d}-{uuid.uuid4().hex[:6]}"
        snapshot.mkdir(parents=True)
        for table in ALL_TABLES:
            version = versions.get(table) or self.current_version(table)
            if version is None:
                continue
            os.symlink(os.path.join("..", "..", table, version), snapshot / table)
        _fsync_dir(snapshot)
        tmp = self.root / f".current.{uuid.uuid4().hex[:6]}.link"
        os.symlink(os.path.join("snapshots", snapshot.name), tmp)
        os.replace(tmp, self.head)  # the commit point: every table switches in this one rename
        _fsync_dir(self.root)

    def _prune(self) -> None:
        """Delete snapshots older than the last few and every version no kept snapshot names
        (including what a killed commit built and never published)."""
        snapshots = self.root / "snapshots"
        if not snapshots.is_dir():
            return
        head = Path(os.readlink(self.head)).name if self.head.is_symlink() else None
        ordered = sorted(p.name for p in snapshots.iterdir() if p.is_dir() and not p.is_symlink())
        if head not in ordered:  # nothing published in this layout yet (`recover` converts old ones)
            return
        keep = ordered[: ordered.index(head) + 1][-KEEP_SNAPSHOTS:]  # newer ones were never published
        used: set[tuple[str, str]] = set()
        for name in keep:
            for link in (snapshots / name).iterdir():
                used.add((link.name, Path(os.readlink(link)).name))
        for name in ordered:
            if name not in keep:
                shutil.rmtree(snapshots / name, ignore_errors=True)
        for table in ALL_TABLES:
            directory = self.root / table
            if not directory.is_dir():
                continue
            for version in directory.iterdir():
                if version.is_dir() and _VERSION.match(version.name) and (table, version.name) not in used:
                    shutil.rmtree(version, ignore_errors=True)
        for tmp in self.root.glob(".current.*.link"):
            tmp.unlink(missing_ok=True)
        for lineage in (self.root / LINEAGE_DIR).glob("*/*"):  # of versions gone, or half written
            if lineage.name.startswith(".") or not (self.root / lineage.parent.name / lineage.stem).is_dir():
                lineage.unlink(missing_ok=True)


_VERSION = re.compile(r"^v\d{20}-[0-9a-f]{6}$")


def _fsync_dir(path: Path) -> None:
    """Make a directory's new entries durable (a rename survives a power cut, not only a kill)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Transaction:
    """The next versions of some tables, built beside the current ones and published in one switch.

    Reads through a transaction see its pending versions, so dataset-wide tables (entities, event
    clusters, the run record) are computed from the data they will be published with.
    """

    def __init__(self, store: Store, run_id: str):
        self.store = store
        self.run_id = run_id
        self.versions: dict[str, str] = {}
        self._counts: dict[tuple[str, str | None], int] = {}  # (table, version) -> rows: versions never change

    def version(self, table: str) -> str | None:
        return self.versions.get(table) or self.store.current_version(table)

    def read(self, table: str, columns: list[str] | None = None, filters=None) -> pd.DataFrame:
        return self.store.read(table, columns, filters, version=self.version(table))

    def count(self, table: str) -> int:
        key = (table, self.version(table))
        if key not in self._counts:
            self._counts[key] = self.store.count(table, key[1])
        return self._counts[key]

    def apply_staged(self, delete: dict[str, Deletes] | None = None, update: dict[str, Update] | None = None) -> None:
        """Next versions: current rows minus `delete[table]` ((column, keys) or a list of them), with
        `update[table]` = (key column, column, {key: value}) set in place, plus the run's staged parts."""
        for table in ALL_TABLES:
            staged = self.store.staged_parts(self.run_id, table)
            spec = (delete or {}).get(table, [])
            deletes = [(column, set(keys)) for column, keys in ([spec] if isinstance(spec, tuple) else spec) if keys]
            change = (update or {}).get(table)
            change = change if change and change[2] else None
            if staged or deletes or change:
                self.versions[table] = self.store._next_version(table, self.version(table), staged, deletes, change).name

    def replace(self, table: str, df: pd.DataFrame) -> None:
        """The next version of `table` is `df`, whole."""
        version = self.store._new_version_dir(table)
        write_parquet(table, df, version / f"part-{self.run_id}.parquet")
        self.versions[table] = version.name

    def publish(self) -> dict[str, int]:
        """Switch every changed table at once, then clean up; returns every contract table's row count."""
        counts = {table: self.count(table) for table in TABLES}
        if self.versions:
            self.store._publish(self.versions)
        shutil.rmtree(self.store.staging_dir(self.run_id), ignore_errors=True)
        self.store._prune()
        return counts

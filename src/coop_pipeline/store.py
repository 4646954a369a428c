"""Store stage: each table a directory of Parquet files that readers can open at any moment.

Layout of the output directory:

    OUT/<table>                      -> symlink to OUT/_store/<table>/<version>/
    OUT/_store/<table>/<version>/     immutable: part-*.parquet files of one committed version
    OUT/_store/staging/<run_id>/     parts written by a run's batches before it commits
    OUT/_store/journal.json          the version switch in progress (crash recovery rolls it forward)
    OUT/_store/lock                  one writer at a time

A commit builds each table's next version beside the current one (unchanged parts are hard-linked,
so an incremental commit costs what changed), then switches every `OUT/<table>` link with an atomic
rename. Readers (pandas, pyarrow, DuckDB, Polars) always see a complete version of every table; a run
killed at any moment leaves the last committed versions in place, and the next run finishes or
discards the half-done commit.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from coop_pipeline.errors import LockError, StoreError
from coop_pipeline.schemas import INTERNAL_MODELS, MODELS, arrow_schema, empty_frame

TABLES = tuple(MODELS)
INTERNAL_TABLES = tuple(INTERNAL_MODELS)  # run state, linked under OUT/_store/current/
ALL_TABLES = TABLES + INTERNAL_TABLES
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
}
_PROCESS_LOCKS: set[str] = set()  # outputs whose writer lock this process holds for its lifetime
KEEP_VERSIONS = 3  # older versions are deleted; readers that opened them keep their open files


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

    # -- reading -----------------------------------------------------------------------------
    def table_dir(self, table: str) -> Path:
        return self.root / "current" / table if table in INTERNAL_TABLES else self.out / table

    def current_version(self, table: str) -> str | None:
        link = self.table_dir(table)
        if not link.is_symlink():
            return None
        return Path(os.readlink(link)).name

    def parts(self, table: str) -> list[Path]:
        directory = self.table_dir(table)
        if not directory.is_dir():
            return []
        return sorted(p for p in directory.iterdir() if p.name.endswith(".parquet") and not p.name.startswith("."))

    def read(self, table: str, columns: list[str] | None = None, filters=None) -> pd.DataFrame:
        """The current rows of `table` (an empty frame with the right columns if it has none)."""
        parts = self.parts(table)
        if not parts:
            frame = empty_frame(table)
            return frame[columns] if columns else frame
        data = pq.ParquetDataset([str(p) for p in parts], filters=filters).read(columns=columns)
        return data.to_pandas()

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

    # -- committing --------------------------------------------------------------------------
    def recover(self) -> None:
        """Finish a commit that a killed run left half-done, and drop abandoned staging areas."""
        journal = self.root / "journal.json"
        if journal.exists():
            try:
                switches = json.loads(journal.read_text())
            except json.JSONDecodeError:  # the journal itself was being written: nothing switched yet
                switches = {}
            for table, version in switches.items():
                if (self.root / table / version).is_dir():
                    self._switch(table, version)
            journal.unlink()
        shutil.rmtree(self.root / "staging", ignore_errors=True)
        for table in ALL_TABLES:
            self._ensure_table(table)

    def _ensure_table(self, table: str) -> None:
        """Every contract table exists, empty if nothing was ever written to it."""
        if self.current_version(table) is None:
            version = self._new_version_dir(table)
            write_parquet(table, empty_frame(table), version / "part-empty.parquet")
            self._switch(table, version.name)

    def _new_version_dir(self, table: str) -> Path:
        version = self.root / table / f"v{time.time_ns():020d}-{uuid.uuid4().hex[:6]}"
        version.mkdir(parents=True)
        return version

    def _switch(self, table: str, version: str) -> None:
        link = self.table_dir(table)
        if link.exists() and not link.is_symlink():
            raise StoreError(f"{link} is a real directory, not a table link written by coop-pipeline")
        link.parent.mkdir(parents=True, exist_ok=True)
        tmp = link.with_name(f".{table}.{uuid.uuid4().hex[:6]}.link")
        os.symlink(os.path.relpath(self.root / table / version, link.parent), tmp)
        os.replace(tmp, link)

    def commit(self, run_id: str, delete: dict[str, tuple[str, set[str]]] | None = None, replace: dict[str, pd.DataFrame] | None = None) -> dict[str, int]:
        """Publish a run's staged parts as the tables' next versions, in one switch.

        `delete[table] = (column, keys)` (or a list of such pairs) drops the current rows whose `column`
        is in `keys`; staged parts are added; tables in `replace` are rewritten whole. A table with
        nothing to do keeps its version. Returns every table's row count.
        """
        delete = {t: [d] if isinstance(d, tuple) else list(d) for t, d in (delete or {}).items()}
        replace = replace or {}
        switches: dict[str, str] = {}
        for table in ALL_TABLES:
            staged = self.staged_parts(run_id, table)
            deletes = [(column, set(keys)) for column, keys in delete.get(table, []) if keys]
            if table in replace:
                version = self._new_version_dir(table)
                write_parquet(table, replace[table], version / f"part-{run_id}.parquet")
            elif staged or deletes:
                version = self._next_version(table, staged, deletes)
            else:
                continue
            switches[table] = version.name
        if not switches:
            shutil.rmtree(self.staging_dir(run_id), ignore_errors=True)
            return {table: self.count(table) for table in TABLES}
        journal = self.root / "journal.json"
        tmp = journal.with_suffix(".tmp")
        tmp.write_text(json.dumps(switches))
        _fsync(tmp)
        os.replace(tmp, journal)  # from here on the commit happens, even if we are killed now
        for table, version in switches.items():
            self._switch(table, version)
        journal.unlink()
        shutil.rmtree(self.staging_dir(run_id), ignore_errors=True)
        self._prune()
        return {table: self.count(table) for table in TABLES}

    def _next_version(self, table: str, staged: list[Path], deletes: list[tuple[str, set[str]]] | str, deleted: set[str] | None = None) -> Path:
        if isinstance(deletes, str):  # the one-key form: (column, keys)
            deletes = [(deletes, set(deleted or ()))] if deleted else []
        version = self._new_version_dir(table)
        for part in self.parts(table):
            if part.name == "part-empty.parquet":
                continue
            if deletes:
                keys = pq.read_table(part, columns=sorted({k for k, _ in deletes})).to_pandas()
                hit = pd.Series(False, index=keys.index)
                for key, deleted in deletes:
                    hit |= keys[key].isin(deleted)
                if hit.any():
                    keep = pq.read_table(part).to_pandas()[~hit.to_numpy()]
                    if not keep.empty:
                        write_parquet(table, keep, version / part.name)
                    continue
            os.link(part, version / part.name)  # unchanged part: shared, not copied
        for part in staged:
            target = version / part.name
            if target.exists():  # a later run rewrote an older part of the same name: keep both
                target = version / f"{part.stem}-{uuid.uuid4().hex[:6]}.parquet"
            os.replace(part, target)
        if not any(version.iterdir()):
            write_parquet(table, empty_frame(table), version / "part-empty.parquet")
        return version

    def count(self, table: str) -> int:
        return sum(pq.ParquetFile(p).metadata.num_rows for p in self.parts(table))

    def _prune(self) -> None:
        for table in ALL_TABLES:
            directory = self.root / table
            if not directory.is_dir():
                continue
            current = self.current_version(table)
            versions = sorted(p for p in directory.iterdir() if p.is_dir())
            for old in versions[:-KEEP_VERSIONS]:
                if old.name != current:
                    shutil.rmtree(old, ignore_errors=True)

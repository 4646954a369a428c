"""What the quality report needs of each Parquet part, computed once per part and kept beside the store.

Parts are immutable: a commit hard-links the unchanged ones into the next version and writes changed
rows to new files. So each part is read, validated and summarised once (`summarise`): its rows, its
schema failures, 64-bit hashes of its keys (row by row) and of the ids it references (distinct ones),
the value counts the charts show, null counts with the first ids of null rows, and its dates counted
day by day. Most parts are summarised by the batch that stages them, on whichever core runs it
(`quality.summarise_staged`): the commit links them into the tables as they are, so the report finds
their summaries made. A report combines the summaries of the current parts (`TableParts`) and reads a part
again only to name offending rows, so it costs what the run wrote, not the size of the dataset, and
its memory is that of one part plus 8 bytes per row of one table's keys.

The summaries live in OUT/_store/quality-parts/<table>/<inode>-<size>-<mtime_ns>.sum, one file per
part, written atomically. A part is known by its inode, size and modification time (the change time
moves with every hard link), under a fingerprint of the schemas, the dictionaries, pandera's version,
this module's code and the sample size: an edited part, or new rules, is summarised again, and a
file that cannot be read or does not match is ignored.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import uuid
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow.parquet as pq

from coop_pipeline import __version__, schemas
from coop_pipeline.resources import data_checksums
from coop_pipeline.schemas import MODELS, PRIMARY_KEYS
from coop_pipeline.store import Store
from coop_pipeline.validate import column_passes, passing

CACHE_DIR = "quality-parts"  # under OUT/_store/
# Besides the primary keys of schemas.PRIMARY_KEYS: a participant appears once per event and role.
COMPOSITE_KEYS = {"event_participants": ("event_id", "entity_id", "role")}
# (column, referenced table): what must exist for a row to make sense.
REFERENCES = {
    "mentions": [("article_id", "articles"), ("entity_id", "entities")],
    "events": [("article_id", "articles"), ("source_entity_id", "entities"), ("target_entity_id", "entities"), ("location_entity_id", "entities")],
    "event_participants": [("event_id", "events"), ("entity_id", "entities"), ("article_id", "articles")],
    "relationships": [("article_id", "articles"), ("subject_entity_id", "entities"), ("object_entity_id", "entities")],
}
RECORD_ID = {"event_participants": "event_id"}  # rows without a primary key are named by their event
# The columns the checks need of each table: a part without one of them cannot be summarised.
COLUMNS = {
    "articles": ["article_id", "source_name", "title", "published_date"],
    "entities": ["entity_id", "entity_type", "country_iso3"],
    "mentions": ["mention_id", "article_id", "entity_id"],
    "events": ["event_id", "article_id", "event_type", "status", "source_entity_id", "target_entity_id", "location_entity_id", "source_country", "target_country", "event_date"],
    "event_participants": ["event_id", "entity_id", "role", "article_id"],
    "relationships": ["relation_id", "article_id", "subject_entity_id", "object_entity_id"],
    "quarantine": ["source_path", "stage", "reason", "table_name", "record_id", "run_id"],
    "runs": ["run_id"],
}
PLACES_AND_ACTORS = ["PERSON", "ORGANIZATION", "LOCATION", "FACILITY"]  # entities expected to have a country
DONE = ["occurred", "ongoing"]  # statuses of acts reported as done


def key_columns(table: str) -> list[str]:
    return [PRIMARY_KEYS[table]] if table in PRIMARY_KEYS else list(COMPOSITE_KEYS.get(table, ()))


def record_id(table: str) -> str:
    return PRIMARY_KEYS.get(table) or RECORD_ID[table]


def hashes(values: pd.Series | pd.DataFrame) -> np.ndarray:
    """64-bit hashes of values (of rows, for a frame): pandas' fixed key, the same in every process."""
    if len(values) == 0:
        return np.array([], dtype=np.uint64)
    return pd.util.hash_pandas_object(values, index=False).to_numpy()


def contains(sorted_unique: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Which `values` are in `sorted_unique` (a binary search each: the set is not sorted again per call)."""
    if not len(sorted_unique):
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_unique, values), len(sorted_unique) - 1)
    return sorted_unique[at] == values


def first_ids(ids: pd.Series, n: int) -> list[str]:
    """The first `n` distinct ids: enough, part by part, for the first `n` distinct of a whole table."""
    return [str(v) for v in list(dict.fromkeys(ids))[:n]]


def to_days(dates: pd.Series) -> np.ndarray:
    """Dates as days since 1970, read as the checks read them (`pd.to_datetime`, unparseable ones dropped)."""
    when = pd.to_datetime(dates, errors="coerce").dropna()
    return when.to_numpy().astype("datetime64[D]").astype(np.int64)


def day_counts(days: np.ndarray) -> np.ndarray:
    """[[day, rows], ...] in day order."""
    values, counts = np.unique(days, return_counts=True)
    return np.stack([values, counts], axis=1) if len(values) else np.zeros((0, 2), dtype=np.int64)


# -- one part -----------------------------------------------------------------------------------
@dataclass
class PartSummary:
    """What the checks need of one part. `keys` (8 bytes a row) is read from the cache file when
    needed rather than held; the other arrays are small (distinct ids, days)."""

    table: str
    path: Path  # the Parquet part
    rows: int
    usable: bool  # readable, with every column the checks need
    schema: dict  # {"bad": rows, "failures": [...], "samples": [...]}
    counts: dict = field(default_factory=dict)  # name -> [[value, rows], ...] in order of first appearance
    nulls: dict = field(default_factory=dict)  # name -> [null rows, rows looked at, first ids of null rows]
    arrays: dict = field(default_factory=dict)  # "ref.<column>", "days.<name>" -> ndarray
    cached: Path | None = None  # the cache file holding "keys"
    _keys: np.ndarray | None = None

    def keys(self) -> np.ndarray:
        """Hashes of the key of every row, in row order."""
        if self._keys is not None:
            return self._keys
        try:
            return read_summary(self.cached, keys=True)[1]["keys"]
        except (OSError, ValueError, KeyError, TypeError):  # not cached, or pruned meanwhile by another report
            return key_hashes(self.table, pq.read_table(self.path, columns=key_columns(self.table)).to_pandas())

    def meta(self) -> dict:
        return {"rows": self.rows, "usable": self.usable, "schema": self.schema, "counts": self.counts, "nulls": self.nulls}


def key_hashes(table: str, df: pd.DataFrame) -> np.ndarray:
    """Hashes of each row's key (its primary key, or the composite key of a participant)."""
    keys = key_columns(table)
    if not keys:
        return np.array([], dtype=np.uint64)
    return hashes(df[keys[0]] if len(keys) == 1 else df[keys])


def _validate(table: str, df: pd.DataFrame, n: int) -> dict:
    """The part's rows that violate the table's pandera model (lazily: every failure at once). A part
    that passes the model's own checks (`validate.passing`, the common case) is not run through
    pandera, whose failure reports, built even for a valid part, were half the report's cost."""
    if passing(table, df) is not None:
        return {"bad": 0, "failures": [], "samples": []}
    try:
        MODELS[table].validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        index = cases["index"].dropna()
        hit = sorted({int(i) for i in index}) if len(index) else list(range(len(df)))
        pk = PRIMARY_KEYS.get(table) or RECORD_ID.get(table)
        samples = [str(df[pk].iloc[i]) for i in hit[:n]] if pk in df.columns else []
        return {"bad": len(hit), "failures": sorted({f"{c.column or c.schema_context}: {c.check}" for c in cases.itertuples()}), "samples": samples}
    return {"bad": 0, "failures": [], "samples": []}


def _null(values: pd.Series, ids: pd.Series, n: int) -> list:
    missing = values.isna()
    return [int(missing.sum()), len(values), first_ids(ids[missing], n)]


def _ordered_counts(values: pd.Series | pd.DataFrame) -> list:
    counts = values.value_counts(sort=False)  # in order of first appearance, nulls left out
    return [[list(k) if isinstance(k, tuple) else k, int(v)] for k, v in counts.items()]


def _table_stats(table: str, df: pd.DataFrame, n: int) -> tuple[dict, dict, dict]:
    """(counts, nulls, arrays) of one part of `table`, beyond its keys and references."""
    counts, nulls, arrays = {}, {}, {}
    if table == "articles":
        nulls["publisher"] = _null(df["source_name"], df["article_id"], n)
        nulls["title"] = _null(df["title"], df["article_id"], n)
        arrays["days.published_date"] = day_counts(to_days(df["published_date"]))
    elif table == "entities":
        counts["entity_type"] = _ordered_counts(df["entity_type"])
        places = df[df["entity_type"].isin(PLACES_AND_ACTORS)]
        nulls["entity_country"] = _null(places["country_iso3"], places["entity_id"], n)
    elif table == "events":
        counts["event_type"] = _ordered_counts(df["event_type"])
        counts["type_status"] = _ordered_counts(df[["event_type", "status"]].dropna())
        counts["country_pairs"] = _ordered_counts(_country_pairs(df))
        src, tgt = df[df["source_entity_id"].notna()], df[df["target_entity_id"].notna()]
        nulls["source_country"] = _null(src["source_country"], src["event_id"], n)
        nulls["target_country"] = _null(tgt["target_country"], tgt["event_id"], n)
        nulls["event_date"] = _null(df["event_date"], df["event_id"], n)
        arrays["days.event_date"] = day_counts(to_days(df["event_date"]))
        arrays["days.done"] = day_counts(to_days(df["event_date"][df["status"].isin(DONE)]))
    elif table == "quarantine":
        counts["reason"] = _ordered_counts(df["reason"])
    return counts, nulls, arrays


def _country_pairs(ev: pd.DataFrame) -> pd.Series:
    """Unordered country pairs of events between two countries: "FRA – KAZ" for either direction."""
    pairs = ev[ev["source_country"].notna() & ev["target_country"].notna() & (ev["source_country"] != ev["target_country"])]
    first = pairs["source_country"] <= pairs["target_country"]
    low, high = pairs["source_country"].where(first, pairs["target_country"]), pairs["target_country"].where(first, pairs["source_country"])
    return low.astype(object) + " – " + high.astype(object)


def summarise(table: str, part: Path, n: int) -> tuple[PartSummary, bool]:
    """Read, validate and summarise one part; (summary, whether it may be cached)."""
    try:
        df = pq.read_table(part).to_pandas()
    except Exception as exc:  # an unreadable part: every row of it is suspect; tried again next time
        return PartSummary(table, part, 0, False, {"bad": 1, "failures": [f"unreadable part {part.name}: {type(exc).__name__}"], "samples": []}), False
    schema = _validate(table, df, n) if len(df) else {"bad": 0, "failures": [], "samples": []}
    if not set(COLUMNS[table]) <= set(df.columns):  # the schema check says which column is missing
        return PartSummary(table, part, len(df), False, schema), True
    counts, nulls, arrays = _table_stats(table, df, n)
    for column, _ in REFERENCES.get(table, []):
        arrays[f"ref.{column}"] = np.unique(hashes(df[column].dropna()))
    keys = key_columns(table)
    if len(keys) == 1:  # null ids are no ids: left out of what references can resolve to
        arrays["key_nulls"] = np.flatnonzero(df[keys[0]].isna().to_numpy())
    summary = PartSummary(table, part, len(df), True, schema, counts, nulls, arrays)
    summary._keys = key_hashes(table, df)
    return summary, True


# -- the cache ----------------------------------------------------------------------------------
# A summary file: this line, the length of a JSON header (8 bytes, little-endian), the header (the
# summary's fields and where each array lies), then the arrays' bytes, the keys last. A report reads
# the header and the small arrays at once and the keys only when a check needs them. (NumPy's .npz,
# a zip of .npy files, cost about 0.8 ms a part to open and parse; this about a tenth of that.)
SUMMARY_MAGIC = b"coop-pipeline part summary 1\n"


def write_summary(fh, meta: dict, arrays: dict[str, np.ndarray], keys: np.ndarray) -> None:
    index, blobs, offset = {}, [], 0
    for name, array in [*arrays.items(), ("keys", keys)]:
        array = np.ascontiguousarray(array)
        index[name] = [array.dtype.str, list(array.shape), offset, array.nbytes]
        blobs.append(array.tobytes())
        offset += array.nbytes
    header = json.dumps({"meta": meta, "arrays": index}).encode()
    fh.write(SUMMARY_MAGIC + len(header).to_bytes(8, "little") + header)
    fh.writelines(blobs)


def read_summary(path: Path, keys: bool = False) -> tuple[dict, dict[str, np.ndarray]]:
    """(meta, arrays) of a summary file; the keys among the arrays only if `keys`. Raises ValueError
    for a file that is not a whole summary."""
    with open(path, "rb") as fh:
        if fh.read(len(SUMMARY_MAGIC)) != SUMMARY_MAGIC:
            raise ValueError(f"{path.name} is not a part summary")
        header = json.loads(fh.read(int.from_bytes(fh.read(8), "little")))
        index = header["arrays"]
        start = index["keys"][2] if keys else 0
        if start:
            fh.seek(start, os.SEEK_CUR)
        wanted = {name: where for name, where in index.items() if (name == "keys") == keys}
        end = max((offset + size for _, _, offset, size in wanted.values()), default=start)
        data = bytearray(end - start)  # writable arrays, as np.load gave
        if fh.readinto(data) != len(data):
            raise ValueError(f"{path.name} is cut short")
    arrays = {name: np.frombuffer(data, dtype=np.dtype(dtype), count=int(np.prod(shape)), offset=offset - start).reshape(shape)
              for name, (dtype, shape, offset, _) in wanted.items()}
    return header["meta"], arrays


@functools.lru_cache(maxsize=1)
def rules_fingerprint() -> str:
    """What a summary depends on besides its part: the schema code, the dictionaries, pandera's
    version and this module's code."""
    h = hashlib.sha256(Path(schemas.__file__).read_bytes())
    h.update(Path(__file__).read_bytes())
    h.update(json.dumps(data_checksums(), sort_keys=True).encode())
    h.update(f"{metadata.version('pandera')} {__version__}".encode())
    return h.hexdigest()


class PartCache:
    """Summaries of the current parts, read from OUT/_store/quality-parts/ or computed and saved there."""

    def __init__(self, store: Store, sample_size: int):
        self.root = store.root / CACHE_DIR
        self.store = store
        self.n = sample_size
        self.fingerprint = f"{rules_fingerprint()}:{sample_size}"
        self.current: dict[str, set[str]] = {}  # table -> cache file names in use
        self.derived: dict[str, dict[str, tuple[Path, str]]] = {}  # table -> store.derived_parts of its current version

    @staticmethod
    def file_name(part: Path) -> str:
        """Empty for a part that cannot be looked at: it is summarised, never cached."""
        try:
            st = part.stat()
        except OSError:
            return ""
        return f"{st.st_ino}-{st.st_size}-{st.st_mtime_ns}.sum"

    def table(self, table: str) -> "TableParts":
        """The summaries of `table`'s current parts, in part order."""
        out = []
        for part in self.store.parts(table):
            name = self.file_name(part)
            path = self.root / table / name
            summary = self._load(table, path, part) if name else None
            if summary is None and name:
                summary = self._carried_over(table, part)
            if summary is None:
                summary, keep = summarise(table, part, self.n)
                if keep and name:
                    self._save(path, summary)
            if name:
                self.current.setdefault(table, set()).add(name)
            out.append(summary)
        return TableParts(table, out)

    def fill(self, parts: list[tuple[str, Path]]) -> None:
        """Summarise and save (table, part) pairs that have no summary yet."""
        for table, part in parts:
            name = self.file_name(part)
            if name and not (self.root / table / name).exists():
                summary, keep = summarise(table, part, self.n)
                if keep:
                    self._save(self.root / table / name, summary)

    def _load(self, table: str, path: Path, part: Path) -> PartSummary | None:
        try:
            meta, arrays = read_summary(path)
        except Exception:  # none yet, damaged, or of another layout: summarised again
            return None
        if meta.get("fingerprint") != self.fingerprint or meta.get("part") != path.name:
            return None
        return PartSummary(table, part, int(meta["rows"]), bool(meta["usable"]), meta["schema"], meta["counts"], meta["nulls"], arrays, cached=path)

    def _carried_over(self, table: str, part: Path) -> PartSummary | None:
        """The summary of a part the commit rewrote only to set new values of a column the checks do
        not read (`cluster_id` of events whose cluster was renamed): that of the part it was made
        from, once the new values pass their column's schema check. None when that summary is not
        at hand or does not apply (then the part is summarised from scratch)."""
        if table not in self.derived:
            version = self.store.current_version(table)
            self.derived[table] = self.store.derived_parts(table, version) if version else {}
        source, column = self.derived[table].get(part.name, (None, None))
        if source is None:
            return None
        name = self.file_name(source)
        return self.carry_over(table, part, name, column) if name else None

    def carry_over(self, table: str, part: Path, source_name: str, column: str) -> PartSummary | None:
        """Save for `part` the summary cached as `source_name` (`file_name` of the part it was made
        from by setting new values of `column`) when that column is not one the checks read and its
        new values pass their schema check; None when it does not apply."""
        name = self.file_name(part)
        if column in COLUMNS[table] or not name:
            return None
        old = self._load(table, self.root / table / source_name, part)
        if old is None or not old.usable or old.schema["bad"]:
            return None
        new = pq.read_table(part, columns=[column]).to_pandas()
        if old.rows != len(new) or not column_passes(table, new):
            return None
        summary = PartSummary(table, part, old.rows, True, old.schema, old.counts, old.nulls, old.arrays)
        summary._keys = old.keys()
        self._save(self.root / table / name, summary)
        return summary

    def _save(self, path: Path, summary: PartSummary) -> None:
        """Write atomically; best effort: without it (a read-only output) the next report summarises again."""
        meta = {"fingerprint": self.fingerprint, "part": path.name, **summary.meta()}
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                write_summary(fh, meta, summary.arrays, summary.keys())
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)
            return
        summary.cached, summary._keys = path, None  # read back when needed, not held

    def prune(self) -> None:
        """Delete the summaries of parts no longer current (and files a killed report left half written)."""
        if not self.root.is_dir():
            return
        for directory in self.root.iterdir():
            if directory.is_dir():
                for path in directory.iterdir():
                    if path.name not in self.current.get(directory.name, set()):
                        path.unlink(missing_ok=True)
        (self.store.root / "schema-checked.json").unlink(missing_ok=True)  # the cache of earlier versions


# -- one table ----------------------------------------------------------------------------------
class TableParts:
    """The summaries of one table's parts, combined. A table with a part that cannot be summarised
    reads as empty for every check but the schema check (which says why), as a whole-table read
    that fails would."""

    def __init__(self, table: str, parts: list[PartSummary]):
        self.table = table
        self.all = parts
        self.usable = all(p.usable for p in parts)
        self.parts = parts if self.usable else []
        self.rows = sum(p.rows for p in self.parts)  # rows the checks look at
        self.stored_rows = sum(p.rows for p in parts)  # rows the table holds
        self._ids: np.ndarray | None = None

    def ordered_counts(self, name: str) -> dict:
        """Value counts over the table, in order of first appearance."""
        merged: dict = {}
        for p in self.parts:
            for key, n in p.counts[name]:
                key = tuple(key) if isinstance(key, list) else key
                merged[key] = merged.get(key, 0) + n
        return merged

    def value_counts(self, name: str) -> pd.Series:
        """As `Series.value_counts()` over the whole table: by count, ties in order of first appearance."""
        merged = self.ordered_counts(name)
        return pd.Series(list(merged.values()), index=list(merged), dtype=np.int64).sort_values(ascending=False, kind="stable")

    def nulls(self, name: str) -> tuple[int, int, list[str]]:
        """(null rows, rows looked at, the first ids of null rows, part by part)."""
        parts = [p.nulls[name] for p in self.parts]
        return sum(p[0] for p in parts), sum(p[1] for p in parts), [i for p in parts for i in p[2]]

    def days(self, name: str) -> np.ndarray:
        """[[day, rows], ...] of a date column over the table, in day order."""
        stacked = [p.arrays[f"days.{name}"] for p in self.parts]
        stacked = np.concatenate(stacked) if stacked else np.zeros((0, 2), dtype=np.int64)
        if not len(stacked):
            return stacked
        days, where = np.unique(stacked[:, 0], return_inverse=True)
        return np.stack([days, np.bincount(where, weights=stacked[:, 1]).astype(np.int64)], axis=1)

    def distinct(self, name: str) -> np.ndarray:
        """Sorted distinct hashes of `name` ("ref.<column>") over the table."""
        arrays = [p.arrays[name] for p in self.parts]
        return np.unique(np.concatenate(arrays)) if arrays else np.array([], dtype=np.uint64)

    def ids(self) -> np.ndarray:
        """Sorted distinct hashes of the table's non-null ids: what references resolve to."""
        if self._ids is None:
            arrays = [np.delete(p.keys(), p.arrays.get("key_nulls", [])) for p in self.parts]
            self._ids = np.unique(np.concatenate(arrays)) if arrays else np.array([], dtype=np.uint64)
        return self._ids

    def repeated_keys(self) -> np.ndarray:
        """Key hashes found on more than one row."""
        everything = np.concatenate([p.keys() for p in self.parts] or [np.array([], dtype=np.uint64)])
        everything.sort()  # in place: the table's keys are held once
        return np.unique(everything[1:][everything[1:] == everything[:-1]])

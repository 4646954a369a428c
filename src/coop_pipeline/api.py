"""The Python API for analysts: a run's output as typed pandas frames (`load`) or DuckDB views (`connect`).

Reading a table by hand gives strings where the contract has closed sets of values, numpy arrays
where it has lists, and one frame per Parquet part; `load` gives every table with the dtypes the
contract means. `connect` gives a DuckDB connection where every table and convenience view
(`events_wide`, `country_pairs`, `positions`, see coop_pipeline.views) can be queried at once.

dtypes of `load` (the same for every table, derived from coop_pipeline.schemas):

- dates (`published_date`, `event_date`) are `datetime64[s]` (NaT when unknown), so `.dt.year`,
  resampling and plotting work directly; timestamps are `datetime64[us, UTC]`;
- enumerated columns (`event_type`, `status`, `entity_type`, `predicate`, `role`...) are pandas
  Categoricals whose categories are ALL the allowed values, in vocabulary order, so counts show the
  values that never occur as 0 (a value outside the vocabulary, from output written by another
  version, is kept as an extra category rather than turned into NaN);
- list columns (`aliases`, `sectors`, `duplicate_paths`) hold Python lists;
- strings keep pandas' default string dtype, integers are int64, floats float64, flags bool.

>>> import coop_pipeline
>>> data = coop_pipeline.load("output")
>>> sorted(data)[:4]
['articles', 'entities', 'event_participants', 'events']
>>> list(data.events["event_type"].cat.categories)
['CONSULT', 'VISIT', 'SIGN_AGREEMENT', 'AGREE', 'EXPRESS_INTENT', 'INVITE', 'PRAISE', 'COOPERATE', 'LAUNCH', 'ESTABLISH']
>>> data.articles["published_date"].dtype
dtype('<M8[s]')
>>> con = coop_pipeline.connect("output")
>>> con.sql("select count(*) as n from articles").fetchall()
[(3,)]
>>> con.close()
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from coop_pipeline.errors import ConfigError, StoreError
from coop_pipeline.schemas import ALL_MODELS, LIST_COLUMNS, arrow_schema
from coop_pipeline.store import INTERNAL_TABLES, TABLES, Store, sort_rows

if TYPE_CHECKING:
    import duckdb

DATE_DTYPE = "datetime64[s]"


def allowed_values(table: str) -> dict[str, tuple[str, ...]]:
    """The enumerated columns of a table and their allowed values, from the schema's `isin` checks."""
    out = {}
    for name, column in ALL_MODELS[table].to_schema().columns.items():
        for check in column.checks:
            if check.name == "isin":
                out[name] = tuple(check.statistics["allowed_values"])
    return out


def _categorical(values: pd.Series, allowed: tuple[str, ...]) -> pd.Series:
    """Categories are every allowed value; unexpected values are kept as extra categories, never lost."""
    extra = sorted(set(values.dropna()) - set(allowed))
    return pd.Series(pd.Categorical(values, categories=[*allowed, *extra]), index=values.index, name=values.name)


def typed_frame(table: str, data: pa.Table) -> pd.DataFrame:
    """An Arrow table of `table` as a pandas frame with the API's dtypes (see the module docstring)."""
    schema = arrow_schema(table)
    columns = {}
    for field in schema:
        if field.name not in data.column_names:  # output written before the column existed
            column = pa.nulls(len(data), field.type)
        else:
            column = data.column(field.name)
        if field.name in LIST_COLUMNS:
            columns[field.name] = pd.Series([list(v) if v is not None else [] for v in column.to_pylist()], dtype=object)
        elif pa.types.is_date(field.type):
            # date32 -> seconds keeps every representable date (ns would overflow past 2262)
            columns[field.name] = column.cast(pa.timestamp("s")).to_pandas().astype(DATE_DTYPE)
        else:
            columns[field.name] = column.to_pandas()
    frame = pd.DataFrame(columns, columns=[f.name for f in schema])
    for name, allowed in allowed_values(table).items():
        frame[name] = _categorical(frame[name], allowed)
    return sort_rows(table, frame)


def read_table(out_dir: str | os.PathLike, table: str) -> pd.DataFrame:
    """One table of an output directory with the API's dtypes (empty, typed, if it has no rows)."""
    if table not in ALL_MODELS:
        raise ConfigError(f"unknown table {table!r}; tables are {', '.join(ALL_MODELS)}")
    parts = Store(Path(out_dir)).parts(table)
    data = pq.ParquetDataset([str(p) for p in parts]).read() if parts else arrow_schema(table).empty_table()
    return typed_frame(table, data)


def _check_output(out: Path) -> None:
    if not any((out / t).is_dir() for t in TABLES):
        raise StoreError(f"{out} holds no coop-pipeline output (no table directories); run `coop-pipeline run --out {out}` first")


class Dataset(Mapping):
    """The tables of one output directory: a read-only mapping of name -> DataFrame, with attribute access.

    >>> import coop_pipeline
    >>> data = coop_pipeline.load("output")
    >>> data.articles is data["articles"]
    True
    >>> int(data.summary().loc["events", "rows"])
    5
    >>> data["events"] = None
    Traceback (most recent call last):
    ...
    TypeError: 'Dataset' object does not support item assignment
    """

    __slots__ = ("_frames", "out_dir")

    def __init__(self, frames: Mapping[str, pd.DataFrame], out_dir: Path):
        object.__setattr__(self, "_frames", MappingProxyType(dict(frames)))
        object.__setattr__(self, "out_dir", out_dir)

    def __getitem__(self, table: str) -> pd.DataFrame:
        return self._frames[table]

    def __iter__(self) -> Iterator[str]:
        return iter(self._frames)

    def __len__(self) -> int:
        return len(self._frames)

    def __getattr__(self, table: str) -> pd.DataFrame:
        try:
            return self._frames[table]
        except KeyError:
            raise AttributeError(f"no table {table!r} loaded; tables: {', '.join(self._frames)}") from None

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a Dataset is read-only; copy a frame to change it")

    def __dir__(self) -> list[str]:
        return [*super().__dir__(), *self._frames]

    def summary(self) -> pd.DataFrame:
        """Rows and columns of every loaded table."""
        return pd.DataFrame(
            {"rows": [len(f) for f in self._frames.values()], "columns": [f.shape[1] for f in self._frames.values()]},
            index=pd.Index(list(self._frames), name="table"),
        )

    def __repr__(self) -> str:
        sizes = ", ".join(f"{t}={len(f)}" for t, f in self._frames.items())
        return f"Dataset({str(self.out_dir)!r}: {sizes})"


def load(out_dir: str | os.PathLike = "output", tables: Iterable[str] | None = None, internal: bool = False) -> Dataset:
    """Every contract table of a run's output directory as typed pandas frames.

    `tables` picks some tables only; `internal=True` adds the internal tables (`files`,
    `entity_observations`). Raises StoreError when `out_dir` holds no pipeline output.

    >>> import coop_pipeline
    >>> data = coop_pipeline.load("output")
    >>> data.entities[["entity_id", "entity_type"]].head(3)
         entity_id entity_type
    0  country:FRA     COUNTRY
    1  country:KAZ     COUNTRY
    2  country:KEN     COUNTRY
    >>> data.events["status"].value_counts(sort=False).to_dict()
    {'occurred': 4, 'ongoing': 0, 'planned': 1, 'proposed': 0}
    >>> data.articles["published_date"].dt.year.tolist()
    [2017.0, 2025.0, nan]
    >>> data.entities.loc[0, "aliases"]
    ['France', 'French Republic']
    >>> coop_pipeline.load("output", tables=["runs"]).runs.shape[0]
    1
    """
    out = Path(out_dir)
    _check_output(out)
    names = list(tables) if tables is not None else [*TABLES, *(INTERNAL_TABLES if internal else ())]
    return Dataset({name: read_table(out, name) for name in names}, out)


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def connect(out_dir: str | os.PathLike = "output") -> "duckdb.DuckDBPyConnection":
    """An in-memory DuckDB connection with every table of `out_dir` and the convenience views as views.

    The views read `OUT/<table>/*.parquet` at query time, so they follow the table links: a query
    sees the version current when it runs. Columns keep their Parquet types (DATE, VARCHAR[],
    TIMESTAMPTZ shown in UTC; enumerations are VARCHAR). Internal tables are views too.

    >>> import coop_pipeline
    >>> con = coop_pipeline.connect("output")
    >>> con.sql("select event_type, count(*) as n from events group by all order by n desc, event_type").fetchall()
    [('SIGN_AGREEMENT', 2), ('CONSULT', 1), ('COOPERATE', 1), ('VISIT', 1)]
    >>> con.sql("select person, title, organization, first_seen, n_articles from positions").fetchall()
    [('Barlybay Sadykov', 'Minister', 'Ministry of Digital Development of Kazakhstan', datetime.date(2025, 9, 5), 2)]
    >>> con.close()
    """
    import duckdb  # imported here: `import coop_pipeline` stays cheap

    from coop_pipeline.views import create_views

    out = Path(out_dir).absolute()
    _check_output(out)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    store = Store(out)
    for table in (*TABLES, *INTERNAL_TABLES):
        directory = store.table_dir(table)
        if store.parts(table):
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{_sql_path(directory)}/*.parquet')")
        else:  # no such table in this output (older layout): an empty view with the right columns
            con.register(f"_empty_{table}", arrow_schema(table).empty_table())
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM _empty_{table}")
    create_views(con)
    return con

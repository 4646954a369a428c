"""Load the versioned dictionary files under `coop_pipeline/data/`, validating every line.

Files are CSV with a header row; lines starting with `#` are provenance comments. A malformed line
raises DictionaryError naming the file, the line and the value, so bad configuration stops a run
before any work.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

from coop_pipeline.errors import DictionaryError

DATA_PACKAGE = "coop_pipeline.data"


def data_path(name: str) -> Path:
    """Filesystem path of a packaged data file."""
    return Path(str(resources.files(DATA_PACKAGE).joinpath(name)))


def read_csv(name: str, required: tuple[str, ...]) -> tuple[dict[str, str], ...]:
    """Rows of a data file as dicts, comments skipped; each row also carries its `_line` number."""
    text = data_path(name).read_text(encoding="utf-8")
    lines = [(i, line) for i, line in enumerate(text.splitlines(), 1) if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise DictionaryError(name, 0, "file has no header row")
    header_line, header = lines[0]
    reader = csv.reader(io.StringIO("\n".join(line for _, line in lines)))
    columns = next(reader)
    missing = [c for c in required if c not in columns]
    if missing:
        raise DictionaryError(name, header_line, f"missing column(s) {missing} in header {header!r}")
    rows = []
    for (lineno, raw), values in zip(lines[1:], reader):
        if len(values) != len(columns):
            raise DictionaryError(name, lineno, f"expected {len(columns)} fields, got {len(values)}: {raw!r}")
        row = dict(zip(columns, (v.strip() for v in values)))
        for col in required:
            if not row[col]:
                raise DictionaryError(name, lineno, f"empty {col!r}: {raw!r}")
        row["_line"] = str(lineno)
        rows.append(row)
    return tuple(rows)


def compile_pattern(name: str, row: dict[str, str], column: str = "pattern", flags: int = 0) -> re.Pattern[str]:
    """Compile a regex from a data row; a bad pattern is reported with its file and line."""
    try:
        return re.compile(row[column], flags)
    except re.error as exc:
        raise DictionaryError(name, int(row["_line"]), f"bad regex {row[column]!r}: {exc}") from exc


@lru_cache(maxsize=1)
def data_checksums() -> dict[str, str]:
    """sha256 of every packaged data file, recorded in each run row for provenance."""
    root = resources.files(DATA_PACKAGE)
    out = {}
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".csv", ".jsonl", ".yaml", ".txt")):
            out[entry.name] = hashlib.sha256(entry.read_bytes()).hexdigest()
    return out

"""docs/data-contract.md from the code: tables from the pandera schemas, commands from the CLI parser.

The document is prose written by hand around generated blocks delimited by

    <!-- generated:NAME -->  ...  <!-- end generated:NAME -->

(NAME is `command-line`, `tables`, `event-types` or `vocabularies`). `render` rewrites only those
blocks, so the prose stays and the tables cannot drift from the schemas. Columns that contract v1
(data/contract_v1.csv) does not list are marked as extensions.

    python -m coop_pipeline.contract            # rewrite docs/data-contract.md
    python -m coop_pipeline.contract --check    # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from coop_pipeline.errors import ConfigError
from coop_pipeline.resources import read_csv
from coop_pipeline.schemas import ALL_MODELS, INTERNAL_MODELS, LIST_COLUMNS, MODELS, arrow_schema, columns
from coop_pipeline.store import SORT_KEYS
from coop_pipeline.vocabulary import vocabulary

DEFAULT_PATH = Path("docs/data-contract.md")
BLOCK = re.compile(r"(<!-- generated:(?P<name>[a-z-]+) -->\n)(?P<body>.*?)(<!-- end generated:(?P=name) -->)", re.S)


@lru_cache(maxsize=1)
def contract_v1() -> dict[str, tuple[str, ...]]:
    """Columns contract v1 names for each of its tables (data/contract_v1.csv)."""
    out: dict[str, list[str]] = {}
    for row in read_csv("contract_v1.csv", ("table", "column")):
        out.setdefault(row["table"], []).append(row["column"])
    return {t: tuple(c) for t, c in out.items()}


def missing_v1_columns() -> list[str]:
    """`table.column` of every contract v1 column the schemas lack: a break of the contract."""
    return [f"{t}.{c}" for t, cols in contract_v1().items() for c in cols if t not in MODELS or c not in columns(t)]


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _arrow_type(arrow_type: object) -> str:
    text = str(arrow_type)
    return {"list<item: string>": "list<string>", "date32[day]": "date32", "double": "float64"}.get(text, text)


def _load_dtype(table: str, name: str, arrow_type: str, enumerated: bool) -> str:
    """The dtype `coop_pipeline.load` gives the column (see coop_pipeline.api)."""
    if enumerated:
        return "category"
    if name in LIST_COLUMNS:
        return "object (list)"
    if arrow_type == "date32":
        return "datetime64[s]"
    if arrow_type.startswith("timestamp"):
        return "datetime64[us, UTC]"
    return {"string": "string", "int64": "int64", "float64": "float64", "bool": "bool"}.get(arrow_type, arrow_type)


def _constraints(column: object) -> tuple[list[str], bool]:
    """Readable checks of a column, and whether it is enumerated."""
    out, enumerated = [], False
    if column.unique:
        out.append("unique")
    for check in column.checks:
        stats = check.statistics or {}
        if check.name == "isin":
            enumerated = True
            values = stats["allowed_values"]
            out.append("see Event types" if column.name == "event_type" else "one of " + ", ".join(f"`{v}`" for v in values))
        elif check.name == "str_matches":
            out.append(f"matches `{stats['pattern']}`")
        elif check.name == "greater_than_or_equal_to":
            out.append(f">= {stats['min_value']}")
        elif check.name == "less_than_or_equal_to":
            out.append(f"<= {stats['max_value']}")
        elif check.name == "str_length":
            lo, hi = stats.get("min_value"), stats.get("max_value")
            exact = stats.get("exact_value")
            out.append(f"length {exact}" if exact is not None else f"length {lo or 0}..{hi if hi is not None else ''}")
        elif check.name == "list_of_strings":
            continue  # the type says it
        else:
            out.append(check.name)
    return out, enumerated


def tables_block() -> str:
    parts = []
    for table, model in ALL_MODELS.items():
        internal = table in INTERNAL_MODELS
        schema = model.to_schema()
        where = f"OUT/_store/current/{table}/" if internal else f"OUT/{table}/"
        doc = (model.__doc__ or "").strip().removeprefix("Internal: ")
        parts.append(f"### {table}{' (internal)' if internal else ''}\n\n{doc}\n\n")
        parts.append(f"Location `{where}`; rows sorted by {', '.join(f'`{k}`' for k in SORT_KEYS.get(table, []))}.\n\n")
        v1 = set(contract_v1().get(table, ()))
        rows = []
        for field in arrow_schema(table):
            column = schema.columns[field.name]
            constraints, enumerated = _constraints(column)
            arrow_type = _arrow_type(field.type)
            origin = "internal" if internal else ("v1" if field.name in v1 else "extension")
            rows.append([
                f"`{field.name}`", f"`{arrow_type}`", f"`{_load_dtype(table, field.name, arrow_type, enumerated)}`",
                "yes" if column.nullable else "no", "; ".join(constraints), column.description or "", origin,
            ])
        parts.append(_table(["column", "Parquet type", "load() dtype", "nullable", "constraints", "description", "contract"], rows))
        table_checks = [c.name for c in schema.checks]
        if table_checks:
            parts.append("\nRow checks: " + ", ".join(f"`{c}`" for c in table_checks) + ".\n")
        parts.append("\n")
    return "".join(parts)


def event_types_block() -> str:
    rows = [[f"`{e.name}`", e.cameo_code or "", e.plover_type or "", e.description] for e in vocabulary().event_types.values()]
    return _table(["event_type", "CAMEO", "PLOVER", "meaning"], rows)


def vocabularies_block() -> str:
    rows = [[f"`{r['field']}`", f"`{r['value']}`", r.get("description", "")] for r in read_csv("vocabulary.csv", ("field", "value"))]
    return _table(["field", "value", "meaning"], rows)


def _usage(name: str, parser: argparse.ArgumentParser) -> tuple[str, list[list[str]]]:
    words, rows = [f"coop-pipeline {name}"], []
    for action in parser._actions:  # argparse has no public API for its actions
        if isinstance(action, argparse._HelpAction):
            continue
        flag = action.option_strings[-1] if action.option_strings else action.dest
        takes_value = action.nargs != 0
        metavar = action.metavar or (action.dest.upper() if action.option_strings else action.dest)
        if action.choices:
            metavar = "|".join(map(str, action.choices))
        shown = f"{flag} {metavar}" if takes_value and action.option_strings else flag
        words.append(shown if action.required or not action.option_strings else f"[{shown}]")
        default = "" if action.default in (None, False, argparse.SUPPRESS) else f"`{action.default}`"
        rows.append([f"`{shown}`", default, action.help or ""])
    return " ".join(words), rows


def command_line_block() -> str:
    from coop_pipeline.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: a.help for a in sub._choices_actions}
    parts = []
    for name, subparser in sub.choices.items():
        usage, rows = _usage(name, subparser)
        parts.append(f"#### `coop-pipeline {name}`\n\n{helps.get(name, '')}\n\n```\n{usage}\n```\n\n")
        if rows:
            parts.append(_table(["option", "default", "meaning"], rows) + "\n")
    return "".join(parts)


BLOCKS: dict[str, Callable[[], str]] = {
    "command-line": command_line_block,
    "tables": tables_block,
    "event-types": event_types_block,
    "vocabularies": vocabularies_block,
}


def render(document: str) -> str:
    """`document` with every generated block rewritten from the code."""
    def replace(match: re.Match) -> str:
        name = match["name"]
        if name not in BLOCKS:
            raise ConfigError(f"unknown generated block {name!r}; known: {', '.join(BLOCKS)}")
        return match.group(1) + "\n" + BLOCKS[name]().rstrip("\n") + "\n\n" + match.group(4)

    return BLOCK.sub(replace, document)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coop_pipeline.contract", description="Regenerate the tables of docs/data-contract.md from the schemas.")
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH, help="the contract document (default: docs/data-contract.md)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the document is out of date instead of rewriting it")
    args = parser.parse_args(argv)
    missing = missing_v1_columns()
    if missing:
        print(f"the schemas lack contract v1 columns: {', '.join(missing)}", file=sys.stderr)
        return 1
    current = args.path.read_text(encoding="utf-8")
    fresh = render(current)
    if args.check:
        if fresh != current:
            print(f"{args.path} is out of date: run python -m coop_pipeline.contract", file=sys.stderr)
            return 1
        return 0
    if fresh != current:
        args.path.write_text(fresh, encoding="utf-8")
        print(f"rewrote {args.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

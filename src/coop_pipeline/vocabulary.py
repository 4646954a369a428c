"""The closed sets of values of the contract (event types, entity types, predicates, statuses...),
read from `data/vocabulary.csv` and `data/event_types.csv` so that schemas and extractors agree."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from coop_pipeline.resources import read_csv


@dataclass(frozen=True)
class EventType:
    name: str
    cameo_code: str | None
    plover_type: str | None
    description: str


@dataclass(frozen=True)
class Vocabulary:
    values: dict[str, tuple[str, ...]]
    event_types: dict[str, EventType]

    def __getitem__(self, field: str) -> tuple[str, ...]:
        if field == "event_type":
            return tuple(self.event_types)
        return self.values[field]


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    """The vocabulary, read once per process (the data files are immutable package data)."""
    values: dict[str, list[str]] = {}
    for row in read_csv("vocabulary.csv", ("field", "value")):
        values.setdefault(row["field"], []).append(row["value"])
    event_types = {
        row["event_type"]: EventType(row["event_type"], row["cameo_code"] or None, row["plover_type"] or None, row["description"])
        for row in read_csv("event_types.csv", ("event_type", "plover_type"))
    }
    return Vocabulary({k: tuple(v) for k, v in values.items()}, event_types)

"""What the events stage passes between its steps: an entity mention and an event as found in one
sentence, before folding and before it becomes a table row."""

from __future__ import annotations

from dataclasses import dataclass, field

from coop_pipeline.event_lexicon import Trigger
from coop_pipeline.event_status import EventDate


@dataclass(slots=True)
class Mention:
    """An entity named at [start, end) of the article text, with its type and country."""

    start: int
    end: int
    entity_id: str
    entity_type: str
    country: str | None


@dataclass
class Found:
    """An event as found in one sentence, before article-level folding."""

    trigger: Trigger
    start: int
    end: int
    sentence_index: int
    sentence_span: tuple[int, int]
    status: str
    negated: bool
    status_basis: str
    parties: list[tuple[Mention, str]] = field(default_factory=list)  # (mention, role)
    countries: tuple[str, ...] = ()
    completed: bool = False
    date: EventDate | None = None
    location: str | None = None
    sectors: list[str] = field(default_factory=list)
    partner: str | None = None  # what tells apart the events of one trigger: a partner or a year of a list
    background: bool = False  # a participle describing a noun: a fact recalled, not the news
    told: set[tuple[int, int]] = field(default_factory=set)  # (sentence, list item) that report it
    headline: bool = False  # reported so far only in the headline, which the body then tells again
    flier: tuple[str, str] | None = None  # (type, id) of the craft or person a launch is told of ("Sputnik lifted off")

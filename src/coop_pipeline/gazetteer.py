"""Entity dictionaries (countries, places, organizations, titles, name cues) loaded once into one
immutable `EntityResources`, validated on load with errors that name file, line and value.

Matching works on surface forms: every name, alias and demonym maps to one `Entry` (its stable id, type,
country and coordinates), so a mention of any alias resolves to the same entity in every article.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from coop_pipeline.errors import DictionaryError
from coop_pipeline.resources import read_csv
from coop_pipeline.vocabulary import vocabulary

_JOINERS = frozenset("of the and for on in de du des la le".split())
ENTITY_ID = re.compile(r"^[a-z]+:\S+$")
ISO3 = re.compile(r"^[A-Z]{3}$")
TYPE_PREFIX = {
    "PERSON": "person",
    "ORGANIZATION": "org",
    "COUNTRY": "country",
    "LOCATION": "place",
    "FACILITY": "facility",
    "SPACECRAFT": "craft",
    "EVENT": "event",
}
CUE_KINDS = ("org_head", "org_suffix", "facility_head", "event_head", "spacecraft_word", "spacecraft_head", "person_verb", "unique_head", "joint_body_head", "postsoviet", "not_name")


@dataclass(frozen=True)
class Entry:
    """One dictionary entity: what every alias of it resolves to."""

    entity_id: str
    name: str
    entity_type: str
    country_iso3: str | None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class Form:
    """A surface form of an entry; `demonym` forms ("Kazakh") name the country's side, not the country."""

    entry: Entry
    demonym: bool = False


@dataclass(frozen=True)
class Title:
    head: str
    office: bool  # False for role words (cosmonaut, Dr) that only show a name is a person's


@dataclass(frozen=True)
class EntityResources:
    """Everything the entity and relation extractors look up, built once per run."""

    forms: Mapping[str, Form]
    titles: Mapping[str, Title]
    cues: Mapping[str, frozenset[str]]
    countries: Mapping[str, Entry]
    series: Mapping[str, str | None]  # spacecraft family -> country
    max_form_words: int
    max_title_words: int
    tail_starts: frozenset[str] = frozenset()  # words that open a form with lower-case words ("Baikonur cosmodrome")
    first_words: frozenset[str] = frozenset()  # first word of every form and title: a quick "no name starts here"
    given_names: frozenset[str] = frozenset()  # a cue that a run of capitalised words is a person
    titles_longest_first: tuple[str, ...] = ()  # the order in which titles are tried where several start
    # Indexes the name rules would otherwise rebuild per article:
    heads: frozenset[str] = frozenset()  # head words of organizations, facilities, events, spacecraft and org suffixes
    name_heads: frozenset[str] = frozenset()  # head words of organizations, facilities and events
    form_lengths: Mapping[str, frozenset[int]] = field(default_factory=lambda: MappingProxyType({}))  # lengths_by_prefix of `forms`
    title_lengths: Mapping[str, frozenset[int]] = field(default_factory=lambda: MappingProxyType({}))  # lengths_by_prefix of `titles`
    titles_by_head: Mapping[str, tuple[tuple[int, str], ...]] = field(default_factory=lambda: MappingProxyType({}))  # head -> (rank in titles_longest_first, form)

    @classmethod
    def load(cls) -> "EntityResources":
        countries, forms = _countries()
        iso3s = set(countries)
        _add_forms(forms, _organizations(iso3s), "organizations.csv", override=True)
        _add_forms(forms, _places(iso3s), "places.csv", override=False)
        titles = _titles()
        series = _series(iso3s)
        cues = {**_cues(), "spacecraft_series": frozenset(series)}
        titles_longest_first = tuple(sorted(titles, key=lambda t: (-len(t), t)))
        return cls(
            forms=MappingProxyType(forms),
            titles=MappingProxyType(titles),
            cues=MappingProxyType(cues),
            countries=MappingProxyType(countries),
            series=MappingProxyType(series),
            max_form_words=max(len(f.split()) for f in forms),
            max_title_words=max(len(t.split()) for t in titles),
            titles_longest_first=titles_longest_first,
            heads=frozenset().union(*(cues[c] for c in ("org_head", "facility_head", "event_head", "org_suffix", "spacecraft_head"))),
            name_heads=frozenset().union(*(cues[c] for c in ("org_head", "facility_head", "event_head"))),
            form_lengths=MappingProxyType(lengths_by_prefix(forms)),
            title_lengths=MappingProxyType(lengths_by_prefix(titles)),
            titles_by_head=MappingProxyType(_titles_by_head(titles, titles_longest_first)),
            given_names=frozenset(r["name"] for r in read_csv("first_names.csv", ("name",))),
            first_words=frozenset(f.split()[0] for f in [*forms, *titles]),
            tail_starts=frozenset(w for f in forms if any(x.islower() and x not in _JOINERS for x in f.split()[1:]) for w in f.split()[:3] if not w.islower()),
        )


def lengths_by_prefix(table: Mapping[str, object]) -> dict[str, frozenset[int]]:
    """For each word a key can open with, the lengths of the keys it opens. A span of text from a word
    can be a key only if the word opens the key and the lengths agree: most of the spans the name
    rules tried were looked up for nothing. A word (a token) is the key's first word or ends inside it
    only before a character that is not a letter or digit ("U.S" of "U.S.", "Kazakhstan" of "Kazakhstan’s")."""
    lengths: dict[str, set[int]] = {}
    for key in table:
        first = key.split(None, 1)[0] if key and not key[0].isspace() else ""
        for n in range(1, len(first) + 1):
            if n == len(first) or not _WORD_CHAR.match(first, n):
                lengths.setdefault(key[:n], set()).add(len(key))
    return {prefix: frozenset(n) for prefix, n in lengths.items()}


_WORD_CHAR = re.compile(r"\w")


def _titles_by_head(titles: Mapping[str, Title], longest_first: tuple[str, ...]) -> dict[str, tuple[tuple[int, str], ...]]:
    """The title forms of each head, with their rank in `titles_longest_first` (filtering every title
    per article cost more than finding the bare titles)."""
    index: dict[str, list[tuple[int, str]]] = {}
    for rank, form in enumerate(longest_first):
        index.setdefault(titles[form].head, []).append((rank, form))
    return {head: tuple(forms) for head, forms in index.items()}


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split("|") if v.strip()]


def _iso3(name: str, row: dict[str, str], column: str, known: set[str] | None) -> str | None:
    value = row.get(column, "").strip()
    if not value:
        return None
    if not ISO3.match(value) or (known is not None and value not in known):
        raise DictionaryError(name, int(row["_line"]), f"unknown country code {value!r} in column {column!r}")
    return value


def _coord(name: str, row: dict[str, str], column: str, limit: float) -> float | None:
    value = row.get(column, "").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise DictionaryError(name, int(row["_line"]), f"{column} is not a number: {value!r}") from None
    if not -limit <= number <= limit:
        raise DictionaryError(name, int(row["_line"]), f"{column} out of range: {value!r}")
    return number


def _countries() -> tuple[dict[str, Entry], dict[str, Form]]:
    name = "countries.csv"
    countries: dict[str, Entry] = {}
    forms: dict[str, Form] = {}
    for row in read_csv(name, ("iso3", "name")):
        iso3 = _iso3(name, row, "iso3", None)
        if iso3 in countries:
            raise DictionaryError(name, int(row["_line"]), f"duplicate country {iso3!r}")
        entry = Entry(f"country:{iso3}", row["name"], "COUNTRY", iso3)
        countries[iso3] = entry
        for form in [row["name"], *_split(row.get("aliases", ""))]:
            forms.setdefault(form, Form(entry))
        for form in _split(row.get("demonyms", "")):
            forms.setdefault(form, Form(entry, demonym=True))
    return countries, forms


def _organizations(iso3s: set[str]) -> list[tuple[int, list[str], Entry]]:
    name = "organizations.csv"
    types = set(vocabulary()["entity_type"]) - {"PERSON", "COUNTRY", "LOCATION"}
    out, ids = [], set()
    for row in read_csv(name, ("entity_id", "name", "type")):
        line = int(row["_line"])
        if not ENTITY_ID.match(row["entity_id"]):
            raise DictionaryError(name, line, f"bad entity_id {row['entity_id']!r} (want prefix:slug)")
        if row["entity_id"] in ids:
            raise DictionaryError(name, line, f"duplicate entity_id {row['entity_id']!r}")
        if row["type"] not in types:
            raise DictionaryError(name, line, f"type {row['type']!r} not one of {sorted(types)}")
        ids.add(row["entity_id"])
        entry = Entry(row["entity_id"], row["name"], row["type"], _iso3(name, row, "country_iso3", iso3s))
        out.append((line, [row["name"], *_split(row.get("aliases", ""))], entry))
    return out


def _places(iso3s: set[str]) -> list[tuple[int, list[str], Entry]]:
    name = "places.csv"
    out = []
    for row in read_csv(name, ("name", "kind")):
        country = _iso3(name, row, "country_iso3", iso3s)
        entry = Entry(
            f"place:{slug(row['name'])}" + (f"-{country.lower()}" if country and row["kind"] == "city" else ""),
            row["name"],
            "LOCATION",
            country,
            _coord(name, row, "latitude", 90),
            _coord(name, row, "longitude", 180),
        )
        out.append((int(row["_line"]), [row["name"], *_split(row.get("aliases", ""))], entry))
    return out


def _add_forms(forms: dict[str, Form], rows: list[tuple[int, list[str], Entry]], name: str, override: bool) -> None:
    """Add each row's forms; a form listed twice in one file is an error, across files the first file wins."""
    own: dict[str, int] = {}
    for line, names, entry in rows:
        for form in names:
            if form in own:
                raise DictionaryError(name, line, f"form {form!r} already listed on line {own[form]}")
            own[form] = line
            if override or form not in forms:
                forms[form] = Form(entry)


def _titles() -> dict[str, Title]:
    name = "titles.csv"
    titles: dict[str, Title] = {}
    for row in read_csv(name, ("title", "head", "kind")):
        if row["kind"] not in ("office", "role"):
            raise DictionaryError(name, int(row["_line"]), f"kind {row['kind']!r} not office or role")
        if row["title"] in titles:
            raise DictionaryError(name, int(row["_line"]), f"duplicate title {row['title']!r}")
        titles[row["title"]] = Title(row["head"], row["kind"] == "office")
    return titles


def _series(iso3s: set[str]) -> dict[str, str | None]:
    name = "spacecraft_series.csv"
    out: dict[str, str | None] = {}
    for row in read_csv(name, ("series",)):
        if row["series"] in out:
            raise DictionaryError(name, int(row["_line"]), f"duplicate series {row['series']!r}")
        out[row["series"]] = _iso3(name, row, "country_iso3", iso3s)
    return out


def _cues() -> dict[str, frozenset[str]]:
    name = "name_cues.csv"
    cues: dict[str, set[str]] = {k: set() for k in CUE_KINDS}
    for row in read_csv(name, ("kind", "word")):
        if row["kind"] not in cues:
            raise DictionaryError(name, int(row["_line"]), f"kind {row['kind']!r} not one of {list(CUE_KINDS)}")
        cues[row["kind"]].add(row["word"])
    return {k: frozenset(v) for k, v in cues.items()}


def slug(name: str) -> str:
    """Readable id part: lower-case ASCII words joined by dashes ("Kenya Space Agency" -> kenya-space-agency)."""
    import unicodedata

    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9+]+", "-", ascii_name.lower()).strip("-") or "x"

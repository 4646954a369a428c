"""The events stage's dictionaries (triggers, status cues, sectors), compiled once into one immutable
object so that per-article work is a few regex scans.

Every line is validated on load: an unknown event type, status, scope, CAMEO code or a bad regex
raises DictionaryError naming the file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from coop_pipeline.dates import DateFinder
from coop_pipeline.errors import DictionaryError
from coop_pipeline.resources import compile_pattern, read_csv
from coop_pipeline.vocabulary import vocabulary

TRIGGERS_FILE = "event_triggers.csv"
CUES_FILE = "event_cues.csv"
SECTORS_FILE = "event_sectors.csv"
CUE_KINDS = ("planned", "proposed", "ongoing", "negated", "occurred")
CUE_SCOPES = ("before", "after")
TRIGGER_KINDS = ("verb", "noun", "phrase")


@dataclass(frozen=True)
class Trigger:
    """One lexicon row: the event type its words signal, with codes and how far to trust it."""

    event_type: str
    kind: str
    cameo_code: str | None
    plover_type: str | None
    priority: int
    governs: str | None
    confidence: float
    line: int


@dataclass(frozen=True)
class EventResources:
    """Compiled trigger, cue and sector patterns; build once with `EventResources.load()`."""

    triggers: tuple[Trigger, ...]
    trigger_pattern: re.Pattern[str]  # one alternation, group t<i> = triggers[i], specific first
    cue_patterns: tuple[tuple[str, str, re.Pattern[str]], ...]  # (cue, scope, pattern)
    before_cues: re.Pattern[str]  # one alternation over all `before` cues, group c<i>
    after_cues: re.Pattern[str]
    cue_kinds: tuple[str, ...]  # cue kind of group c<i> (before and after share numbering)
    sector_pattern: re.Pattern[str]
    sector_names: tuple[str, ...]  # sector of group s<i>
    date_finder: DateFinder

    @classmethod
    def load(cls) -> "EventResources":
        return cls.from_rows(read_csv(TRIGGERS_FILE, ("event_type", "pattern", "kind", "priority", "confidence")),
                             read_csv(CUES_FILE, ("cue", "scope", "pattern")),
                             read_csv(SECTORS_FILE, ("sector", "pattern")))

    @classmethod
    def from_rows(cls, trigger_rows, cue_rows, sector_rows) -> "EventResources":
        """Validate and compile rows as read by `resources.read_csv` (also used by tests)."""
        triggers, alternatives = _triggers(trigger_rows)
        cue_patterns, before, after, kinds = _cues(cue_rows)
        sectors, sector_alts = [], []
        for row in sector_rows:
            compile_pattern(SECTORS_FILE, row)
            sector_alts.append(f"(?P<s{len(sectors)}>{row['pattern']})")
            sectors.append(row["sector"])
        return cls(
            triggers=tuple(triggers),
            trigger_pattern=_by_first_letter(alternatives, [t.line for t in triggers], TRIGGERS_FILE),
            cue_patterns=tuple(cue_patterns),
            before_cues=_by_first_letter(before, [int(r["_line"]) for r in cue_rows if r["scope"] == "before"], CUES_FILE),
            after_cues=_by_first_letter(after, [int(r["_line"]) for r in cue_rows if r["scope"] == "after"], CUES_FILE),
            cue_kinds=tuple(kinds),
            sector_pattern=_by_first_letter(sector_alts, [int(r["_line"]) for r in sector_rows], SECTORS_FILE),
            sector_names=tuple(sectors),
            date_finder=DateFinder.load(),
        )


def _triggers(rows) -> tuple[list[Trigger], list[str]]:
    types = vocabulary().event_types
    statuses = vocabulary()["status"]
    parsed = []
    for row in rows:
        line = int(row["_line"])
        if row["event_type"] not in types:
            raise DictionaryError(TRIGGERS_FILE, line, f"unknown event_type {row['event_type']!r}")
        if row["kind"] not in TRIGGER_KINDS:
            raise DictionaryError(TRIGGERS_FILE, line, f"kind {row['kind']!r} not in {TRIGGER_KINDS}")
        cameo = row.get("cameo_code") or types[row["event_type"]].cameo_code
        if cameo and not re.fullmatch(r"\d{2,4}", cameo):
            raise DictionaryError(TRIGGERS_FILE, line, f"bad CAMEO code {cameo!r}")
        governs = row.get("governs") or None
        if governs and governs not in statuses:
            raise DictionaryError(TRIGGERS_FILE, line, f"governs {governs!r} is not a status {statuses}")
        try:
            priority, confidence = int(row["priority"]), float(row["confidence"])
        except ValueError as exc:
            raise DictionaryError(TRIGGERS_FILE, line, f"bad number: {exc}") from exc
        if not 0 < confidence <= 1:
            raise DictionaryError(TRIGGERS_FILE, line, f"confidence {confidence} outside (0, 1]")
        pattern = compile_pattern(TRIGGERS_FILE, row, flags=re.IGNORECASE)
        if pattern.groups:
            raise DictionaryError(TRIGGERS_FILE, line, f"use (?:...) not capturing groups: {row['pattern']!r}")
        if pattern.match(""):
            raise DictionaryError(TRIGGERS_FILE, line, f"pattern matches the empty string: {row['pattern']!r}")
        plover = row.get("plover_type") or types[row["event_type"]].plover_type
        parsed.append((Trigger(row["event_type"], row["kind"], cameo, plover, priority, governs, confidence, line), row["pattern"]))
    # Alternation tries alternatives in order at each position: specific and longer patterns first.
    parsed.sort(key=lambda tp: (-tp[0].priority, -len(tp[1]), tp[0].line))
    triggers = [t for t, _ in parsed]
    alternatives = [f"(?P<t{i}>{p})" for i, (_, p) in enumerate(parsed)]
    return triggers, alternatives


def _cues(rows):
    cue_patterns, before, after, kinds = [], [], [], []
    for row in rows:
        line = int(row["_line"])
        if row["cue"] not in CUE_KINDS:
            raise DictionaryError(CUES_FILE, line, f"cue {row['cue']!r} not in {CUE_KINDS}")
        if row["scope"] not in CUE_SCOPES:
            raise DictionaryError(CUES_FILE, line, f"scope {row['scope']!r} not in {CUE_SCOPES}")
        pattern = compile_pattern(CUES_FILE, row, flags=re.IGNORECASE)
        if pattern.groups:
            raise DictionaryError(CUES_FILE, line, f"use (?:...) not capturing groups: {row['pattern']!r}")
        cue_patterns.append((row["cue"], row["scope"], pattern))
        (before if row["scope"] == "before" else after).append(f"(?P<c{len(kinds)}>{row['pattern']})")
        kinds.append(row["cue"])
    return cue_patterns, before, after, kinds


def _first_chars(items) -> tuple[set[str] | None, bool]:
    """Characters a parsed regex can start with (None = any) and whether it can match empty."""
    chars: set[str] = set()
    for op, av in items:
        name = str(op)
        if name == "LITERAL":
            return chars | {chr(av).lower()}, False
        if name == "IN":
            for iop, iav in av:
                if str(iop) == "LITERAL":
                    chars.add(chr(iav).lower())
                elif str(iop) == "RANGE":
                    chars.update(chr(c).lower() for c in range(iav[0], iav[1] + 1))
                elif str(iop) != "NEGATE":
                    return None, False
                else:
                    return None, False
            return chars, False
        if name == "SUBPATTERN":
            sub, nullable = _first_chars(av[-1])
        elif name == "BRANCH":
            sub, nullable = set(), False
            for branch in av[1]:
                b, n = _first_chars(branch)
                if b is None:
                    return None, False
                sub |= b
                nullable = nullable or n
        elif name in ("MAX_REPEAT", "MIN_REPEAT"):
            sub, nullable = _first_chars(av[2])
            nullable = nullable or av[0] == 0
        elif name in ("AT", "ASSERT", "ASSERT_NOT"):
            continue
        else:
            return None, False
        if sub is None:
            return None, False
        chars |= sub
        if not nullable:
            return chars, False
    return chars, True


def _by_first_letter(alternatives: list[str], lines: list[int], file: str) -> re.Pattern[str]:
    """One alternation, factored by first letter so the engine tries only the few alternatives that
    can start where it stands (the plain alternation of a hundred triggers is ten times slower)."""
    import re._parser as sre_parse  # the stdlib's own regex parser; public enough since 3.0

    groups: dict[str, list[str]] = {}
    anywhere: list[str] = []
    for alt, line in zip(alternatives, lines):
        try:
            chars, nullable = _first_chars(sre_parse.parse(alt, re.IGNORECASE))
        except re.error as exc:
            raise DictionaryError(file, line, f"bad regex {alt!r}: {exc}") from exc
        if chars is None or nullable:
            anywhere.append(alt)
            continue
        for c in sorted(chars):
            groups.setdefault(c, []).append(alt)
    branches = []
    for k, (c, alts) in enumerate(sorted(groups.items())):
        # alternatives keep their priority order inside each letter's group; group names must be
        # unique in one pattern, so each copy is renamed <name>_<k> (see `group_index`)
        ordered = [re.sub(r"^\(\?P<(\w+)>", rf"(?P<\1_{k}>", a) for a in alternatives if a in alts or a in anywhere]
        branches.append(f"(?={re.escape(c)})(?:{'|'.join(ordered)})")
    if anywhere:
        branches.append(f"(?:{'|'.join(anywhere)})")
    return re.compile(r"(?<![\w-])(?:" + "|".join(branches) + r")(?![\w-])", re.IGNORECASE)


def group_index(m: re.Match[str]) -> int:
    """Index of the lexicon row whose alternative matched (group names are t<i>, s<i> or c<i>, maybe _<k>)."""
    return int(m.lastgroup[1:].split("_", 1)[0])

"""The events stage's dictionaries (triggers, status cues, sectors), compiled once into one immutable
object so that per-article work is a few regex scans.

Every line is validated on load: an unknown event type, status, scope, CAMEO code or a bad regex
raises DictionaryError naming the file and line.
"""

from __future__ import annotations

import re
import sys
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache

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
    trigger_pattern: "Scanner"  # group t<i> = triggers[i]; specific patterns first
    cue_patterns: tuple[tuple[str, str, re.Pattern[str]], ...]  # (cue, scope, pattern)
    before_cues: "Scanner"  # all `before` cues, group c<i>
    after_cues: "Scanner"
    cue_kinds: tuple[str, ...]  # cue kind of group c<i> (before and after share numbering)
    sector_pattern: "Scanner"
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
            trigger_pattern=Scanner(alternatives, [t.line for t in triggers], TRIGGERS_FILE),
            cue_patterns=tuple(cue_patterns),
            before_cues=Scanner(before, [int(r["_line"]) for r in cue_rows if r["scope"] == "before"], CUES_FILE),
            after_cues=Scanner(after, [int(r["_line"]) for r in cue_rows if r["scope"] == "after"], CUES_FILE),
            cue_kinds=tuple(kinds),
            sector_pattern=Scanner(sector_alts, [int(r["_line"]) for r in sector_rows], SECTORS_FILE),
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
        _alternative(TRIGGERS_FILE, row)  # validated here; the alternation joins the pattern text
        plover = row.get("plover_type") or types[row["event_type"]].plover_type
        parsed.append((Trigger(row["event_type"], row["kind"], cameo, plover, priority, governs, confidence, line), row["pattern"]))
    # Alternation tries alternatives in order at each position: specific and longer patterns first.
    parsed.sort(key=lambda tp: (-tp[0].priority, -len(tp[1]), tp[0].line))
    triggers = [t for t, _ in parsed]
    alternatives = [f"(?P<t{i}>{p})" for i, (_, p) in enumerate(parsed)]
    return triggers, alternatives


def _alternative(file: str, row: dict[str, str]) -> re.Pattern[str]:
    """A lexicon pattern fit to join one big alternation: no capturing groups, never empty."""
    pattern = compile_pattern(file, row, flags=re.IGNORECASE)
    line = int(row["_line"])
    if pattern.groups:
        raise DictionaryError(file, line, f"use (?:...) not capturing groups: {row['pattern']!r}")
    if pattern.match(""):
        raise DictionaryError(file, line, f"pattern matches the empty string: {row['pattern']!r}")
    return pattern


def _cues(rows):
    cue_patterns, before, after, kinds = [], [], [], []
    for row in rows:
        line = int(row["_line"])
        if row["cue"] not in CUE_KINDS:
            raise DictionaryError(CUES_FILE, line, f"cue {row['cue']!r} not in {CUE_KINDS}")
        if row["scope"] not in CUE_SCOPES:
            raise DictionaryError(CUES_FILE, line, f"scope {row['scope']!r} not in {CUE_SCOPES}")
        pattern = _alternative(CUES_FILE, row)
        cue_patterns.append((row["cue"], row["scope"], pattern))
        (before if row["scope"] == "before" else after).append(f"(?P<c{len(kinds)}>{row['pattern']})")
        kinds.append(row["cue"])
    return cue_patterns, before, after, kinds


PREFIX = 3  # characters a word must start with to be tried against a pattern (3 tries a third as many as 2)


@lru_cache(maxsize=1)
def _decimal_digits() -> str:
    """What `\\d` matches in a str pattern: every Unicode decimal digit (category Nd), not only 0-9."""
    return "".join(filter(str.isdecimal, map(chr, range(sys.maxunicode + 1))))


def _prefixes(items, k: int) -> set[str] | None:
    """Lower-case beginnings (up to k characters) of what a parsed regex can match; None = unknown.
    A beginning shorter than k means the match may end there."""
    current = {""}
    for op, av in items:
        if all(len(p) >= k for p in current):
            break
        name = str(op)
        if name in ("AT", "ASSERT", "ASSERT_NOT"):
            continue
        if name == "LITERAL":
            part = {chr(av).lower()}
        elif name == "IN":
            part = set()
            for iop, iav in av:
                if str(iop) == "LITERAL":
                    part.add(chr(iav).lower())
                elif str(iop) == "RANGE":
                    part.update(chr(c).lower() for c in range(iav[0], iav[1] + 1))
                elif str(iop) == "CATEGORY" and str(iav) == "CATEGORY_DIGIT":
                    part.update(_decimal_digits())
                else:
                    return None
        elif name == "SUBPATTERN":
            part = _prefixes(av[-1], k)
        elif name == "BRANCH":
            part = set()
            for branch in av[1]:
                sub = _prefixes(branch, k)
                if sub is None:
                    return None
                part |= sub
        elif name in ("MAX_REPEAT", "MIN_REPEAT"):
            lo, hi, sub_items = av
            one = _prefixes(sub_items, k)
            if one is None:
                return None
            part = {""} if lo == 0 else set()
            reps = {""}
            for n in range(1, min(hi, k) + 1):
                reps = {(a + b)[:k] for a in reps for b in one}
                if n >= lo:
                    part |= reps
            if lo > k:
                part = reps
        else:
            return None
        if part is None:
            return None
        current = {(p + q)[:k] if len(p) < k else p for p in current for q in part}
    return current


_WORD_START = re.compile(r"(?<![\w-])[\w ]")


class WordStarts:
    """A text with the places a lexicon pattern may begin: each word (a letter or digit not preceded by
    one or by a hyphen) and each space after punctuation (", to be held"), with their first three letters
    lower-cased. Found once per article and shared by every scan of it: a scan then only looks up
    those letters, with no regex pass of its own over the text."""

    __slots__ = ("text", "starts", "keys")

    def __init__(self, text: str):
        self.text = text
        self.starts = [m.start() for m in _WORD_START.finditer(text)]
        self.keys = [text[s:s + PREFIX].lower() for s in self.starts]


class Scanner:
    """Finds the alternatives of a lexicon in text, trying at each word start only those that can
    begin with its first letters (one alternation of a hundred patterns is ten times slower).
    Alternatives keep their order: at one position the first that matches wins."""

    def __init__(self, alternatives: list[str], lines: list[int], file: str):
        """`alternatives` are named groups, (?P<t3>...), so `group_index` tells which one matched."""
        import re._parser as sre_parse  # the stdlib's own regex parser, to read where patterns can start

        by_prefix: dict[str, list[int]] = {}
        anywhere: list[int] = []
        for i, (alt, line) in enumerate(zip(alternatives, lines)):
            try:
                starts = _prefixes(sre_parse.parse(alt, re.IGNORECASE), PREFIX)
            except re.error as exc:
                raise DictionaryError(file, line, f"bad regex {alt!r}: {exc}") from exc
            if starts is None or any(len(p) < PREFIX for p in starts):
                anywhere.append(i)
                continue
            for p in starts:
                if not re.match(r"[\w ]", p):  # never tried (see WordStarts): it would silently never match
                    raise DictionaryError(file, line, f"pattern can begin with {p[0]!r}: it must begin with a letter, a digit or a space")
                by_prefix.setdefault(p, []).append(i)
        compiled: dict[tuple[int, ...], re.Pattern[str]] = {}  # prefixes that share alternatives share a pattern

        def compile_group(indices: list[int]) -> re.Pattern[str]:
            ordered = tuple(sorted(set(indices)))
            if ordered not in compiled:
                # a match ends at a word boundary, or right after the space a cue ends with ("is currently ")
                compiled[ordered] = re.compile("(?:" + "|".join(alternatives[i] for i in ordered) + r")(?:(?<=\s)|(?![\w-]))", re.IGNORECASE)
            return compiled[ordered]

        self._groups = {p: compile_group(ids + anywhere) for p, ids in by_prefix.items()}
        self._default = compile_group(anywhere) if anywhere else None

    def finditer(self, text: str | WordStarts, pos: int = 0, endpos: int | None = None):
        """Non-overlapping matches in text[pos:endpos], in text order, as re.Match objects (group_index
        gives the row). Pass a `WordStarts` when the same text is scanned more than once."""
        words = text if isinstance(text, WordStarts) else WordStarts(text)
        text, starts, keys = words.text, words.starts, words.keys
        end = len(text) if endpos is None else endpos
        taken = pos
        groups, default = self._groups, self._default
        for i in range(bisect_left(starts, pos), bisect_left(starts, end)):
            s = starts[i]
            if s < taken:
                continue
            pattern = groups.get(keys[i], default)
            if pattern is None:
                continue
            m = pattern.match(text, s, end)
            if m:
                taken = m.end()
                yield m


def group_index(m: re.Match[str]) -> int:
    """Index of the lexicon row whose alternative matched (group names are t<i>, s<i> or c<i>, maybe _<k>)."""
    return int(m.lastgroup[1:].split("_", 1)[0])

"""Status, date and sector of one event trigger, read from the words around it in its sentence.

The status describes the act the sentence reports: "agreed to organize meetings" is an AGREE that
occurred and a CONSULT that is planned, because the meetings inherit the status the agreement lends
(`governs` in the trigger lexicon). Nearest cue wins; a cue never reaches across another trigger.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from coop_pipeline.dates import DateFinder, DateMatch, relative_dates
from coop_pipeline.event_lexicon import EventResources, WordStarts, group_index

CUE_WINDOW_BEFORE = 70  # characters before a trigger where a modal or negation still governs it
CUE_WINDOW_AFTER = 50  # characters after it: "to be held", "is under construction"
NEGATION_WINDOW = 30
GOVERNOR_CUE_WINDOW = 25
DATE_WINDOW = 120  # a date further than this from the trigger belongs to another clause
_DIGIT_RUN = re.compile(r"\d+")
_RELATIVE_HINT = re.compile(r"(?=[dwmyt])(?:day\b|week|month|year|tomorrow)", re.IGNORECASE)  # the lookahead: a third faster
PAST_FORMS = ("ed", "met", "held", "signed", "made", "built", "went", "came", "sent", "put", "flew", "took", "had", "set up", "inked")


@dataclass(frozen=True)
class Cue:
    kind: str
    scope: str
    start: int
    end: int


@dataclass(frozen=True)
class EventDate:
    date: dt.date | None
    precision: str | None
    basis: str | None


def _windows(points: list[int], length: int, reach: int) -> list[tuple[int, int]]:
    """Merged stretches of +-reach characters around the points, clipped to [0, length]."""
    out: list[tuple[int, int]] = []
    for p in points:
        lo, hi = max(0, p - reach), min(length, p + reach)
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def find_cues(res: EventResources, text: str | WordStarts, start: int, end: int, triggers: list[tuple[int, int, bool]] | None = None) -> list[Cue]:
    """Status cues of one sentence (offsets into the article text), looked for only in the
    stretches around its triggers where they can matter."""
    spans = [(start, end)]
    if triggers:
        spans = []
        for t_start, t_end, to_end in triggers:  # to_end: a noun takes its tense from the rest of the sentence
            lo, hi = max(start, t_start - CUE_WINDOW_BEFORE - 40), end if to_end else min(end, t_end + CUE_WINDOW_AFTER + 40)
            if spans and lo <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(spans[-1][1], hi))
            else:
                spans.append((lo, hi))
    cues = []
    for lo, hi in spans:
        for scope, pattern in (("before", res.before_cues), ("after", res.after_cues)):
            for m in pattern.finditer(text, lo, hi):
                cues.append(Cue(res.cue_kinds[group_index(m)], scope, m.start(), m.end()))
    return sorted(cues, key=lambda c: (c.start, c.end))


def is_finite_past(trigger_text: str) -> bool:
    """'signed', 'met', 'has held talks': the sentence itself reports the act as done."""
    head = trigger_text.lower().split()
    return bool(head) and (head[0].endswith(PAST_FORMS) or head[0] in ("has", "have", "had"))


def status_of(trigger_start: int, trigger_end: int, own_text: bool, prev_end: int, next_start: int,
              cues: list[Cue], carry: str | None, past: bool, clause_start: int = 0, tenseless: bool = False) -> tuple[str, bool, str]:
    """(status, negated, basis) of a trigger: basis says what decided it (cue, carry, default)."""
    negated = False
    before_status = None
    # a reporting verb ("discussed", "agreed") takes only the modal right before it ("will discuss");
    # cues further back describe what is discussed, as in "Prospects for cooperation discussed"
    window = CUE_WINDOW_BEFORE if own_text and not past else GOVERNOR_CUE_WINDOW  # "have now signed": only a modal right before
    limit_before = max(prev_end, trigger_start - window, clause_start)
    reach = trigger_end if own_text else trigger_start
    best = None
    for cue in cues:
        # a cue may run into the trigger ("are negotiating") but must start before it
        if cue.scope == "before" and limit_before <= cue.start and (cue.end <= reach or (cue.start < trigger_start and cue.end <= trigger_end)):
            if cue.kind == "negated":
                if cue.start >= trigger_start - NEGATION_WINDOW:
                    negated = True
                continue
            if best is None or cue.start >= best.start:
                best = cue
        elif cue.scope == "after" and not (past and not tenseless) and trigger_start <= cue.start and (tenseless or (cue.start <= trigger_end + CUE_WINDOW_AFTER and cue.start < max(next_start, trigger_end + 1))):
            if cue.kind in ("planned", "ongoing", "proposed") and not (tenseless and _told_as_done(best, trigger_start)):
                return cue.kind, negated, "cue"
    if best is not None:
        before_status = best.kind
    if before_status and before_status != "occurred":
        return before_status, negated, "cue"
    if carry and not past and before_status != "occurred":
        return carry, negated, "carry"
    return "occurred", negated, "default"


def _told_as_done(cue: Cue | None, trigger_start: int) -> bool:
    """ "At the meeting, it was suggested ...": a noun set in the past by the words right before it
    keeps that tense, whatever the rest of the sentence says."""
    return cue is not None and cue.kind == "occurred" and trigger_start - cue.end <= 1


class DateIndex:
    """The dates of one article, found sentence by sentence on first use (most sentences carry no
    trigger, and a sentence without a digit or a relative word carries no date)."""

    def __init__(self, finder: DateFinder, text: str, published: dt.date | None):
        self.finder, self.text, self.published = finder, text, published
        self._cache: dict[tuple[int, int], list[tuple[DateMatch, str]]] = {}

    def in_sentence(self, start: int, end: int) -> list[tuple[DateMatch, str]]:
        key = (start, end)
        if key in self._cache:
            return self._cache[key]
        chunk = self.text[start:end]
        found: list[tuple[DateMatch, str]] = []
        taken: list[tuple[int, int]] = []

        def add(matches: list[DateMatch], basis: str, offset: int = 0) -> None:
            """Dates found at `offset` in the sentence, unless an earlier one took their words."""
            for d in matches:
                d_start, d_end = d.start + offset, d.end + offset
                if any(s < d_end and d_start < e for s, e in taken):
                    continue
                taken.append((d_start, d_end))
                found.append((DateMatch(d.date, d.precision, start + d_start, start + d_end, d.month, d.day), basis))

        # the date patterns are slow on long text: run them only on stretches around digits
        for w_start, w_end in _windows([m.start() for m in _DIGIT_RUN.finditer(chunk)], len(chunk), 32):
            for matches in self.finder.explicit(chunk[w_start:w_end]):
                add(matches, "explicit", w_start)
        if self.published is not None and _RELATIVE_HINT.search(chunk):
            add(relative_dates(chunk, self.published), "relative")
        self._cache[key] = found
        return found

    def near(self, sent_start: int, sent_end: int, trig_start: int, trig_end: int, status: str,
             lo: int = 0, hi: int = 10**12) -> EventDate | None:
        """The date written closest to the trigger within its sentence, resolved to a calendar date.
        A date beyond the neighbouring triggers (`lo`, `hi`) belongs to their events."""
        best, best_gap = None, DATE_WINDOW + 1
        for d, basis in self.in_sentence(sent_start, sent_end):
            if d.end <= lo or d.start >= hi:
                continue
            gap = trig_start - d.end if d.end <= trig_start else d.start - trig_end
            gap = max(gap, 0) + (10 if d.end <= trig_start else 0)  # dates usually follow the verb
            if gap < best_gap:
                best, best_gap = (d, basis), gap
        if best is None:
            return None
        d, basis = best
        if basis == "relative" and status in ("planned", "proposed") and d.date and self.published and d.date < self.published and d.precision == "day":
            # "on Friday" in a sentence about what lies ahead means the coming Friday
            d = DateMatch(d.date + dt.timedelta(days=7), d.precision, d.start, d.end)
        if d.date is None:  # day and month without a year: take the publication year
            if self.published is None:
                return None
            try:
                date = dt.date(self.published.year, d.month, d.day)
            except ValueError:
                return None
            if status == "occurred" and date > self.published + dt.timedelta(days=31):
                date = date.replace(year=date.year - 1)
            return EventDate(date, "day", "relative")
        return EventDate(d.date, d.precision, basis)


def sector_hits(res: EventResources, text: str | WordStarts, start: int = 0, end: int | None = None) -> list[tuple[int, str]]:
    """(offset, sector) of every sector word in text[start:end], in text order."""
    return [(m.start(), res.sector_names[group_index(m)]) for m in res.sector_pattern.finditer(text, start, end)]

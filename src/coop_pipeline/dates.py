"""Find calendar dates written in news text ("05.09.2025", "July 04, 2024", "31st August 2019",
"04 сентября 2015", "2017-09-11"). Shared by ingest (publication dates) and events (event dates)."""

from __future__ import annotations

import bisect
import datetime as dt
import re
from dataclasses import dataclass

from coop_pipeline.resources import read_csv


_HAS_YEAR = re.compile(r"(?:19|20)\d\d")


@dataclass(frozen=True)
class DateMatch:
    """A date found in text: the date, how much of it was written, and where."""

    date: dt.date | None  # None when the text gave no year
    precision: str  # "day", "month", "year"
    start: int
    end: int
    month: int | None = None
    day: int | None = None


class DateFinder:
    """Compiled date patterns; build once with `DateFinder.load()` and share."""

    def __init__(self, months: dict[str, int]):
        self.months = months
        names = "|".join(sorted(map(re.escape, months), key=len, reverse=True))
        day = r"(?P<d>[0-3]?\d)(?:st|nd|rd|th)?"
        # the lookahead (their first letters) spares the alternation of names at most word starts
        initials = "".join(sorted({re.escape(name[0]) for name in months}))
        month = rf"(?=[{initials}])(?P<m>{names})\.?"
        year = r"(?P<y>(?:19|20)\d\d)"
        self._patterns = [
            re.compile(r"\b(?P<y>(?:19|20)\d\d)-(?P<mn>[01]\d)-(?P<d>[0-3]\d)\b"),
            re.compile(r"\b(?P<d>[0-3]?\d)\.(?P<mn>[01]?\d)\.(?P<y>(?:19|20)\d\d)\b"),
            re.compile(rf"\b{day}\s+{month},?\s+{year}\b", re.IGNORECASE),
            re.compile(rf"\b{month}\s+{day},?\s+{year}\b", re.IGNORECASE),
        ]
        self._month_year = re.compile(rf"\b{month},?\s+{year}\b", re.IGNORECASE)
        self._day_month = [
            re.compile(rf"\b{day}\s+{month}(?![a-zа-я])", re.IGNORECASE),
            re.compile(rf"\b{month}\s+{day}\b(?!:)", re.IGNORECASE),
        ]

    @classmethod
    def load(cls) -> "DateFinder":
        rows = read_csv("months.csv", ("month", "name"))
        return cls({r["name"].lower(): int(r["month"]) for r in rows})

    def _month(self, m: re.Match[str]) -> int:
        if m.groupdict().get("mn"):
            return int(m["mn"])
        return self.months[m["m"].lower().rstrip(".")]

    def full_dates(self, text: str) -> list[DateMatch]:
        """Every complete day-month-year date in `text`, in order of position."""
        if not _HAS_YEAR.search(text):  # every full date has a year: skip the patterns (hot path)
            return []
        found = []
        # Spans already taken, sorted and disjoint: an overlap test is a binary search, so a page of
        # a hundred thousand dates costs seconds, not hours.
        starts: list[int] = []
        ends: list[int] = []
        for pattern in self._patterns:
            for m in pattern.finditer(text):
                i = bisect.bisect_left(starts, m.end())
                if i and ends[i - 1] > m.start():
                    continue
                try:
                    date = dt.date(int(m["y"]), self._month(m), int(m["d"]))
                except ValueError:
                    continue
                j = bisect.bisect_left(starts, m.start())
                starts.insert(j, m.start())
                ends.insert(j, m.end())
                found.append(DateMatch(date, "day", m.start(), m.end()))
        return sorted(found, key=lambda d: d.start)

    def first_date(self, text: str) -> DateMatch | None:
        found = self.full_dates(text)
        return found[0] if found else None

    def explicit(self, text: str) -> list[list[DateMatch]]:
        """Full dates, months of a year, days of a month and years written in `text`, in that order
        (the order in which the events stage lets them claim their words). Only the days of a month
        can be there without a year in the text: the other patterns are not run then."""
        if not _HAS_YEAR.search(text):
            return [self.day_months(text)]
        return [self.full_dates(text), self.month_years(text), self.day_months(text), self.years(text)]

    def month_years(self, text: str) -> list[DateMatch]:
        """"May 2018", "December, 2021": month precision."""
        out = []
        for m in self._month_year.finditer(text):
            out.append(DateMatch(dt.date(int(m["y"]), self._month(m), 1), "month", m.start(), m.end()))
        return out

    def day_months(self, text: str) -> list[DateMatch]:
        """"13 November", "April 20": a day and month with no year (date left None)."""
        out = []
        for pattern in self._day_month:
            for m in pattern.finditer(text):
                day = int(m["d"])
                if 1 <= day <= 31:
                    out.append(DateMatch(None, "day", m.start(), m.end(), month=self._month(m), day=day))
        return sorted(out, key=lambda d: d.start)

    _YEAR = re.compile(r"\b(?:in|since|from|of|by|until|till|to|during|early|late|mid|end of|beginning of|spring|summer|autumn|fall|winter)\s+(?:the\s+(?:year|end|beginning)\s+(?:of\s+)?)?(?P<y>(?:19|20)\d\d)\b(?![-–/.]\d)", re.IGNORECASE)
    _BARE_YEAR = re.compile(r"(?<![\d-])(?P<y>(?:19[5-9]|20[0-4])\d)(?![\d-])")

    def years(self, text: str) -> list[DateMatch]:
        """"in 2018", "since 2009", and bare years: year precision. Ranges such as 2017-2022 are skipped."""
        out = [DateMatch(dt.date(int(m["y"]), 1, 1), "year", m.start("y"), m.end("y")) for m in self._YEAR.finditer(text)]
        seen = {d.start for d in out}
        for m in self._BARE_YEAR.finditer(text):
            if m.start() not in seen:
                out.append(DateMatch(dt.date(int(m["y"]), 1, 1), "year", m.start(), m.end()))
        return sorted(out, key=lambda d: d.start)


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_RELATIVE = re.compile(
    r"\b(?:(?P<wd>on\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday))"
    r"|(?P<day>today|yesterday|tomorrow|the day before yesterday)"
    r"|(?P<rel>last|next|this|earlier this|later this|early next|late last)\s+(?P<unit>week|month|year))\b",
    re.IGNORECASE,
)


def relative_dates(text: str, published: dt.date, future: bool = False) -> list[DateMatch]:
    """Dates written relative to the publication date ("on Wednesday", "yesterday", "last year",
    "next month"). A bare weekday means the latest such day up to publication, or the next one after
    it when the event lies ahead (`future`)."""
    out = []
    for m in _RELATIVE.finditer(text):
        if m["wd"]:
            wd = _WEEKDAYS.index(m["wd"].split()[-1].lower())
            delta = (wd - published.weekday()) % 7 if future else -((published.weekday() - wd) % 7)
            out.append(DateMatch(published + dt.timedelta(days=delta), "day", m.start(), m.end()))
        elif m["day"]:
            shift = {"today": 0, "yesterday": -1, "tomorrow": 1, "the day before yesterday": -2}[m["day"].lower()]
            out.append(DateMatch(published + dt.timedelta(days=shift), "day", m.start(), m.end()))
        else:
            rel, unit = m["rel"].lower(), m["unit"].lower()
            step = -1 if rel in ("last", "late last") else 1 if rel in ("next", "early next") else 0
            if unit == "year":
                out.append(DateMatch(dt.date(published.year + step, 1, 1), "year", m.start(), m.end()))
            elif unit == "month":
                month0 = published.year * 12 + published.month - 1 + step
                out.append(DateMatch(dt.date(month0 // 12, month0 % 12 + 1, 1), "month", m.start(), m.end()))
            else:
                out.append(DateMatch(published + dt.timedelta(weeks=step), "month", m.start(), m.end()))  # a week: the month is what is sure
    return out

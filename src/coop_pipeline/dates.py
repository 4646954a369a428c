"""Find calendar dates written in news text ("05.09.2025", "July 04, 2024", "31st August 2019",
"04 сентября 2015", "2017-09-11"). Shared by ingest (publication dates) and events (event dates)."""

from __future__ import annotations

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
        month = rf"(?P<m>{names})\.?"
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
        taken: list[tuple[int, int]] = []
        for pattern in self._patterns:
            for m in pattern.finditer(text):
                if any(s < m.end() and m.start() < e for s, e in taken):
                    continue
                try:
                    date = dt.date(int(m["y"]), self._month(m), int(m["d"]))
                except ValueError:
                    continue
                taken.append((m.start(), m.end()))
                found.append(DateMatch(date, "day", m.start(), m.end()))
        return sorted(found, key=lambda d: d.start)

    def first_date(self, text: str) -> DateMatch | None:
        found = self.full_dates(text)
        return found[0] if found else None

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

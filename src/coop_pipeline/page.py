"""Turn a decoded news page into an article: drop page furniture, find title, date, dateline and
publisher in the text itself.

Pages arrive in many shapes (see ../shared/corpus): a header of navigation, tickers, date stamps and
the title (sometimes twice), then the body, whose first paragraph may open with a dateline
("ASTANA. KAZINFORM", "MOSCOW, April 20. /TASS/.", "OREANDA-NEWS. September 08, 2014."), then
copyright lines and "relevant news" lists.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from coop_pipeline.dates import DateFinder
from coop_pipeline.resources import compile_pattern, read_csv

# A dateline: an upper-case place (or place pair) opening the first paragraph, e.g. "ASTANA.",
# "NUR-SULTAN –", "BAKU, Azerbaijan, May 15.", "Astana, May 31 (IANS/WAM)", "Cairo –", "Vienna:".
DATELINE = re.compile(
    r"""^(?:date\s+\S+\s+)?                          # seed 002: "date 2017-09-11 ASTANA. ..."
    (?P<place>[A-Z][A-Z'’\-]+(?:[ -][A-Z][A-Z'’\-]+){0,2}   # ASTANA, NUR-SULTAN, BRUSSELS-HAGUE
      |[A-Z][a-z]+(?:[ -][A-Z][a-z]+)?(?=\s*(?:[–—:-]|,\s*(?:[A-Z][a-z]+\.?\s+\d|[A-Z][a-z]+,))))
    (?=\s*(?:[.,:]|\s[–—-]|\s\(|\s*$))""",
    re.VERBOSE,
)
# The end of a dateline prefix: agency marks and separators after the place.
DATELINE_TAIL = re.compile(
    r"""^(?:,\s*[A-Z][a-z]+(?=,))?                    # ", Azerbaijan"
    (?:[.,]?\s*(?:[A-Z][a-z]+\.?\s+\d{1,2}(?:,\s*\d{4})?|\d{1,2}\s+[A-Z][a-z]+))?   # " April 20", ", May 15"
    [.,]?\s*(?:\([^)]{1,60}\)|/[A-Z]{2,}/\.?|KAZINFORM\b|[A-Z]{3,}\b(?=\s*(?:[-–—]|$))|,\s*[A-Z]{3,}\b)?
    \s*(?:/[^/\n]{1,40}/)?\s*[.:–—-]*\s*""",
    re.VERBOSE,
)
# A line that only stamps time, views or time zone once its date is removed.
_STAMP_REST = re.compile(r"^[\W\d_]*(?:(?:gmt|utc|am|pm|views?)[\W\d_]*)*$", re.IGNORECASE)
# Stamps, headlines and copyright lines are short; longer lines are not searched for them, so that a
# hostile page of one multi-megabyte line is parsed in linear time.
MAX_STAMP_LINE = 400
_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")


@dataclass(frozen=True)
class Page:
    """What the page parser learnt about one article."""

    text: str
    title: str | None
    published_date: dt.date | None
    date_source: str  # header, dateline, body, none
    dateline: str | None
    source_name: str | None


class PageParser:
    """Compiled page rules (boilerplate, publishers, dates); build once with `PageParser.load()`."""

    def __init__(self, line_rules, tail_rules, publishers, dates: DateFinder):
        self.line_rules = line_rules
        self.tail_rules = tail_rules
        # One alternation per kind: a line is tested once, not once per rule (this runs on every
        # line of every article's header). A line matches it exactly when it matches one of the rules.
        self._line_rule = _any_of(line_rules)
        self._tail_rule = _any_of(tail_rules)
        self.publishers = publishers
        self.dates = dates
        # Each publisher's pattern is only searched when the literal text it requires is in the page:
        # a substring test costs far less than a regex search, and this runs on every article.
        self._needles = tuple(required_literal(p) for _, p in publishers)

    @classmethod
    def load(cls) -> "PageParser":
        line_rules, tail_rules = [], []
        for row in read_csv("boilerplate.csv", ("kind", "pattern")):
            pattern = compile_pattern("boilerplate.csv", {**row, "pattern": rf"(?:{row['pattern']})\s*"}, flags=re.IGNORECASE)
            (tail_rules if row["kind"] == "tail" else line_rules).append(pattern)
        publishers = [(row["name"], compile_pattern("publishers.csv", row)) for row in read_csv("publishers.csv", ("name", "pattern"))]
        return cls(tuple(line_rules), tuple(tail_rules), tuple(publishers), DateFinder.load())

    # -- lines ---------------------------------------------------------------------------------
    def is_boilerplate(self, line: str) -> bool:
        return self._line_rule.fullmatch(line) is not None

    def is_tail_marker(self, line: str) -> bool:
        return self._tail_rule.fullmatch(line) is not None

    def line_dates(self, line: str) -> list:
        """The full dates of a line short enough to be a stamp or a headline; [] for a paragraph
        (scanning a long one for dates costs seconds). Computed once per header line: the stamp
        tests below all read it."""
        return [] if len(line) > MAX_STAMP_LINE else self.dates.full_dates(line)

    def stamp_date(self, line: str, dates: list | None = None):
        """The date of a line that is only a date stamp (with time, views, zone), else None."""
        dates = self.line_dates(line) if dates is None else dates
        if not dates:
            return None
        found = dates[0]
        rest = line[: found.start] + line[found.end :]
        rest_words = _WORD.findall(rest)
        # "(Xinhua) 10:41, July 04, 2024", "Ars Technica » Scientific Method 2018-11-06",
        # "Daniyal Sohail 2 minutes ago Sat 31st August 2019 | 10:20 AM": short bylines around a stamp.
        if _STAMP_REST.match(rest) or (len(rest_words) <= 6 and len(line) < 90):
            return found
        return None

    def trailing_stamp(self, line: str, dates: list | None = None):
        """A date stamp closing a headline line ("... confirms 23 июня 2015, 12:13"), else None."""
        dates = self.line_dates(line) if dates is None else dates
        if not dates:
            return None
        last = dates[-1]
        return last if _STAMP_REST.match(line[last.end :]) and last.start > 0 else None

    # -- the page ------------------------------------------------------------------------------
    def parse(self, raw_text: str, hint_title: str | None = None) -> Page:
        lines = [_squeeze(line.strip()) for line in raw_text.split("\n")]
        kept: list[str] = []
        header_date = None
        body_started = False
        title = None
        copyright_lines: list[str] = []
        for line in lines:
            if not line:
                continue
            if self.is_tail_marker(line):
                break
            if self.is_boilerplate(line):
                copyright_lines.append(line)
                continue
            if not body_started:
                dates = self.line_dates(line)
                own = self.stamp_date(line, dates)
                stamp = own or self.trailing_stamp(line, dates)
                if stamp is not None and stamp.start > 0 and own is None:
                    # "Headline text 23 июня 2015, 12:13": keep the headline, take the stamp.
                    header_date = header_date or stamp.date
                    line = line[: stamp.start].rstrip(" ,|-–—")
                    stamp = None
                if stamp is not None:
                    header_date = header_date or stamp.date
                    copyright_lines.append(line)  # bylines such as "(Xinhua) 10:41, ..." name publishers
                    continue
                if kept and line == kept[-1]:  # a title printed twice
                    continue
                if _is_body_paragraph(line):
                    body_started = True
                elif title is None and _looks_like_title(line) and find_dateline(line)[1] < len(line):
                    title = line
            kept.append(line)
        body_first = next((line for line in kept if _is_body_paragraph(line)), kept[0] if kept else "")
        # "date 2017-09-11 ASTANA. KAZINFORM ..." (seed 002): the stamp prefix is metadata, not text.
        date_source = "header" if header_date else "none"
        published = header_date
        prefix = re.match(r"^date\s+(\S+)\s+", body_first)
        if prefix:
            stamp = self.dates.first_date(prefix.group(1))
            if stamp and published is None:
                published, date_source = stamp.date, "header"
            stripped = body_first[prefix.end() :]
            kept = [stripped if line is body_first else line for line in kept]
            body_first = stripped
        dateline, dateline_end = find_dateline(body_first)
        if published is None and dateline_end:
            # "OREANDA-NEWS. September 08, 2014." or "MOSCOW (UrduPoint News / Sputnik - 04th December, 2020)"
            found = self.dates.first_date(body_first[: max(dateline_end, 0) + 60])
            if found and found.start <= dateline_end + 5:
                published, date_source = found.date, "dateline"
        if published is None:
            # "28 January 2005 -- Nursultan Nazarbaev, the Kazakh President, ..."
            found = self.dates.first_date(body_first[:40])
            if found and found.start == 0:
                published, date_source = found.date, "dateline"
        if published is None:
            for line in reversed(kept[-3:]):
                found = self.stamp_date(line)
                if found:
                    published, date_source = found.date, "body"
                    break
        title = title or hint_title
        text = "\n\n".join(kept)
        zone = "\n".join(line[:MAX_STAMP_LINE] for line in lines[:12] + [body_first[:200]] + copyright_lines)
        return Page(
            text=text,
            title=title,
            published_date=published,
            date_source=date_source,
            dateline=dateline,
            source_name=self.publisher(zone),
        )

    def publisher(self, zone: str) -> str | None:
        """The publisher named earliest in the page's header, dateline or copyright lines."""
        best: tuple[int, str] | None = None
        for (name, pattern), needle in zip(self.publishers, self._needles):
            if needle and needle not in zone:
                continue
            m = pattern.search(zone)
            if m and (best is None or m.start() < best[0]):
                best = (m.start(), name)
        return best[1] if best else None


def _any_of(rules: tuple[re.Pattern[str], ...]) -> re.Pattern[str]:
    """One pattern matching what any of `rules` matches (they share their flags; numbered
    backreferences would point to another rule's groups, and the rules have none)."""
    flags = rules[0].flags if rules else 0
    return re.compile("|".join(f"(?:{rule.pattern})" for rule in rules) or "(?!)", flags)


_SPACE_RUN = re.compile(r" {2,}")


def _squeeze(line: str) -> str:
    """Runs of spaces become one (most lines have none: they are not searched)."""
    return _SPACE_RUN.sub(" ", line) if "  " in line else line


def required_literal(pattern: re.Pattern[str]) -> str:
    """The longest run of literal characters every match of `pattern` contains ('' if unsure)."""
    if pattern.flags & re.IGNORECASE:
        return ""
    try:
        from re import _parser as sre_parse  # Python 3.11+
    except ImportError:  # pragma: no cover - Python 3.10
        import sre_parse  # type: ignore[no-redef]
    best, run = "", ""
    for op, arg in sre_parse.parse(pattern.pattern):
        if op is sre_parse.LITERAL:
            run += chr(arg)
            best = max(best, run, key=len)
        elif op is sre_parse.AT:  # \b, ^, $: zero-width, the run goes on
            continue
        else:
            run = ""
    return best


def find_dateline(paragraph: str) -> tuple[str | None, int]:
    """The dateline place of a first paragraph ("Astana") and the offset where the story starts."""
    m = DATELINE.match(paragraph)
    if not m:
        return None, 0
    place = m.group("place")
    tail = DATELINE_TAIL.match(paragraph[m.end() :])
    end = m.end() + (tail.end() if tail else 0)
    if place.isupper() and len(place) < 3:
        return None, 0
    after = paragraph[m.end() :]
    # "SANSA, the South Africa National Space Agency, ..." is an acronym opening a sentence.
    if re.match(r",\s+[a-z]", after):
        return None, 0
    # A capitalised word only counts as a dateline when followed by a separator, not by a sentence.
    if not place.isupper() and not re.match(r"\s*(?:[–—:]|-\s|,)", paragraph[m.end() :]):
        return None, 0
    return _place_name(place), end


def _place_name(place: str) -> str:
    """ASTANA -> Astana, NUR-SULTAN -> Nur-Sultan, BRUSSELS-HAGUE -> Brussels-Hague."""
    if not place.isupper():
        return place
    return re.sub(r"[A-Z]+", lambda m: m.group().capitalize(), place)


def _is_body_paragraph(line: str) -> bool:
    """A paragraph of running text: long, or several sentences, ending in punctuation."""
    words = len(line.split())
    if words >= 25:
        return True
    return words >= 8 and bool(re.search(r"[.!?\"”»)]$", line)) and bool(re.search(r"[a-zа-я]{3,}\s", line))


def _looks_like_title(line: str) -> bool:
    words = line.split()
    if not 3 <= len(words) <= 30 or len(line) > 250:
        return False
    if line[0] in "-•*|>" or re.match(r"^\d+\.\s", line) or "http" in line or "@" in line:
        return False
    if re.search(r"[a-z]\. [A-Z]", line):  # two sentences: a blurb, not a headline
        return False
    return not re.match(r"^(?:by|views|published|updated)\b", line, re.IGNORECASE)

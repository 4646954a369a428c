"""Context rules for names: the titles, appositions and neighbouring words that say who a name is and
which country it belongs to. A mixin of `names.ArticleNames`, kept apart to keep each module short.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from coop_pipeline import names as _n

if TYPE_CHECKING:
    from coop_pipeline.gazetteer import Title
    from coop_pipeline.names import Found, Tok


class ContextRules:
    """Look-ups around a name in the article text (`self.text`) with the dictionaries (`self.res`)."""

    def _sentence_at(self, pos: int) -> str:
        lo = max(self.text.rfind(". ", 0, pos), self.text.rfind("\n", 0, pos)) + 1
        hi = self.text.find(". ", pos)
        return self.text[lo : hi if hi > 0 else len(self.text)].lower()
    def _title_before(self, pos: int) -> tuple[Title, int, int] | None:
        """A title (or role word) right before a name: "cosmonaut Aidyn Aimbetov", "Roscosmos head Yury Borisov"."""
        window = self.text[max(0, pos - 80) : pos]
        # "Italian Ambassador to Kazakhstan Paolo Ricci": the title's "to ..." stands between it and the name.
        to = (" to " in window or " in " in window) and _n._TO_PLACE_BEFORE.search(window)  # the search is dearer than the look
        if to:
            window, pos = window[: to.start() + 1], pos - (len(window) - to.start() - 1)
        before = _words_before(window)
        if before is None:
            return self._title_comma_before(window, pos)
        words = before.split()
        for k in range(1, len(words) + 1):
            cand = " ".join(words[-k:])
            if cand in self.res.titles:
                best = (self.res.titles[cand], pos - len(before) + before.rfind(cand), pos - 1)
                # keep looking for a longer title ("Deputy Prime Minister" over "Prime Minister")
                for k2 in range(k + 1, len(words) + 1):
                    cand2 = " ".join(words[-k2:])
                    if cand2 in self.res.titles:
                        best = (self.res.titles[cand2], pos - len(before) + before.rfind(cand2), pos - 1)
                return best
        return None

    def _title_comma_before(self, window: str, pos: int) -> tuple[Title, int, int] | None:
        """"Kenya’s President, William Ruto", "the Governor of Karnataka State, Vajubhai Vala": the title,
        with its complement, then a comma, then the name."""
        m = "," in window[-3:] and _TITLE_COMMA.search(window)  # the comma ends the window (before a space and a line end at most)
        if not m:
            return None
        base = pos - len(window)
        if any(f.entity_type == "PERSON" and base + m.start(1) < s < pos for f in self.found.values() for s, _, _ in f.spans):
            return None  # "PM of Kazakhstan Karim Massimov, Anne-Marie Idrac": the title has its own name
        words = m.group(1).split()
        for k in range(len(words), 0, -1):
            title = self.res.titles.get(" ".join(words[-k:]))
            if title is not None and title.office:
                return (title, base + m.start(1) + m.group(1).rfind(words[-k]), base + m.end())
        return None

    def _apposition(self, after: str) -> tuple[Title, int, int] | None:
        """", Minister of ...", ", the Ambassador of ...", ", Kazakhstan's Deputy Prime Minister" after a name."""
        if _n._WHO_HEADS.match(after):
            return (self.res.titles["Head"], 2, 2)
        m = _n._APPOSITION.match(after)
        if not m:
            return None
        lead = (m.group(1) or "").split()
        rest = m.group(2)
        if _n._POSSESSIVE_WORD.match(rest):  # "the agency's executive vice president"
            rest = rest.split(" ", 1)[1]
        words = [w.strip(".,;:") for w in lead + rest.split()]
        base = m.start(1) if m.group(1) else m.start(2)
        best = None
        first_words = self.res.first_words
        for s in range(0, min(len(lead), 4) + 1):
            if s < len(words) and words[s] and words[s] not in first_words:
                continue  # no title starts with this word (an empty word may still start " "-joined ones)
            for k in range(min(self.res.max_title_words, len(words) - s), 0, -1):
                cand = " ".join(words[s : s + k])
                if cand in self.res.titles:
                    best = self.res.titles[cand]
                    break
            if best:
                # the words skipped must be a country or demonym, not another name
                skipped = " ".join(lead[:s]).replace("’s", "").replace("'s", "")
                if s and skipped not in self.res.forms and not all(w.replace("’s", "").replace("'s", "") in self.res.forms for w in lead[:s]):
                    return None
                return (best, base, base)
        return None
    @staticmethod
    def _clause_end(after: str) -> int:
        m = _n._CLAUSE_END.search(after, 1)
        return m.start() if m else len(after)
    def _country_in(self, span: str) -> str | None:
        """First country named in a title's complement, skipping the "to Kenya" of an ambassador."""
        portfolio = "Minister" in span and _n._PORTFOLIO.match(span)  # its literal word, cheaper to look for first
        if portfolio:
            for prefix in ("Ministry of ", "Ministry of the ", "Ministry for "):
                form = self.res.forms.get(prefix + portfolio.group(1).strip())
                if form and form.entry.country_iso3:
                    return form.entry.country_iso3
        for m in _NAMES_IN_SPAN.finditer(span):
            if m.group(1):
                continue  # "to Kenya": where an ambassador serves, not whose he is
            words = m.group(2).split()
            for k in range(len(words), 0, -1):
                for s in range(0, len(words) - k + 1):
                    form = self.res.forms.get(" ".join(words[s : s + k]).replace("’s", "").replace("'s", ""))
                    if form and form.entry.country_iso3:
                        return form.entry.country_iso3
        return None
    def _country_near(self, pos: int) -> str | None:
        """A demonym or possessive country right before a name ("Russian cosmonaut X", "Japan's X")."""
        m = _n._NAMES_BEFORE.search(self.text[max(0, pos - 60) : pos])
        if not m:
            return None
        words = m.group(1).split()
        for k in range(len(words)):
            form = self.res.forms.get(" ".join(words[k:]))
            if form and form.entry.country_iso3:
                return form.entry.country_iso3
        found = self._found_at(pos - len(m.group(0)), pos - len(m.group(0)) + len(m.group(1)))
        return found.country if found else None
    def _country_prefix(self, name: str) -> str | None:
        """"KazSaySat", "RwaSat-1", "EgyptSat": a craft named after its country (one country only)."""
        m = _n._LEAD_SEGMENT.match(name)
        if not m:
            return None
        hits = {e.country_iso3 for e in self.res.countries.values() if e.name.startswith(m.group())}
        return hits.pop() if len(hits) == 1 else None
    def _country_after(self, end: int) -> str | None:
        """", a Chinese company", ", a Turkish firm": the country an apposition gives a name."""
        m = _n._COUNTRY_APPOSITION.match(self.text[end : end + 60])
        form = self.res.forms.get(m.group(1)) if m else None
        return form.entry.country_iso3 if form else None
    def _found_at(self, start: int, end: int) -> "Found | None":
        """The entity already found whose mention ends at `end` (a name just before another)."""
        for f in self.found.values():
            for s, e, named in f.spans:
                if named and e == end and s >= start - 1:
                    return f
        return None
    def _country_of(self, end: int) -> str | None:
        m = _n._OF_NAME_AFTER.match(self.text[end : end + 40])
        if m:
            for cand in (m.group(1), m.group(1).split()[0]):
                form = self.res.forms.get(cand)
                if form and form.entry.entity_type == "COUNTRY":
                    return form.entry.country_iso3
        return None
    def _person_match(self, toks: list[Tok]) -> Found | None:
        """An earlier person this name is a short form of: surname, initial and surname, first name."""
        words = [t.text for t in toks]
        first, last = words[0], words[-1]
        for f in self.persons:
            parts = f.name.split()
            if parts[0] != first and parts[-1] != last:
                continue  # each rule below needs the first or the last words to agree
            if words == parts:
                return f
            if len(words) < len(parts) and words[-1] == parts[-1] and _n._in_order([w.rstrip(".") for w in words[:-1]], parts[:-1]):
                return f
            if 1 < len(words) < len(parts) and words == parts[: len(words)]:  # "Rana Tanveer" of "Rana Tanveer Hussain"
                return f
            if len(words) == 1 and len(parts) > 1 and words[0] in (parts[0], parts[-1]):
                return f
            if len(words) > len(parts) and words[-1] == parts[-1] and len(parts) == 1:
                f.name = " ".join(words)
                return f
        return None

    def _demonym_apposition(self, end: int) -> str | None:
        """", a Kazakh engineer", ", the Russian cosmonaut": a demonym in apposition gives a person's country."""
        m = _DEMONYM_APPOSITION.match(self.text, end)
        form = self.res.forms.get(m.group(1)) if m else None
        return form.entry.country_iso3 if form is not None and form.entry.entity_type == "COUNTRY" else None


def _words_before(window: str) -> str | None:
    """The one to four words that end `window`, each followed by one space ("Roscosmos head "), as
    `_WORDS_BEFORE` finds them: matched from the end on the reversed window, where the search from the
    start tried every position (it runs before every name). `$` also matches before a final line break:
    that rare window keeps the search."""
    if window.endswith("\n"):
        m = _n._WORDS_BEFORE.search(window)
        return m.group(1) if m else None
    m = _WORDS_BEFORE_REVERSED.match(window[::-1])
    return m.group()[::-1] if m else None


_WORDS_BEFORE_REVERSED = re.compile(r"(?: [A-Za-z.’'-]+){1,4}")  # _WORDS_BEFORE backwards: greedy words end on a non-word
_TITLE_COMMA = re.compile(r"([A-Z][\w’'-]*(?: [A-Z][\w’'-]*){0,3})(?: (?:of|for|at) [^,.;()]{1,70})?,\s$")
_NAMES_IN_SPAN = re.compile(r"(\bto\s+(?:the\s+)?)?([A-Z][\w.-]*(?:\s+[A-Z][\w.-]*){0,3})")
_DEMONYM_APPOSITION = re.compile(r",\s+(?:a|an|the)\s+([A-Z][\w.-]+)\s+[a-z]")

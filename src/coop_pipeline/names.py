"""Find the named entities of one article: dictionary names, names by shape, persons by their titles.

Works on capitalised phrases ("chunks": capitalised words joined by of/the/and/&...), which it splits
into dictionary forms, titles and runs of unknown name words; each run is then classified by its shape
(a head word such as Agency, Cosmodrome, Forum; a spacecraft family and number) or by its context (a
title before it or in apposition, a role word, a reporting verb, a surname ending). A second pass
resolves surnames, initials, bare titles and acronyms to the entities they stand for in the article.
Plain Python lists and dicts only: this runs once per article and must stay well under a millisecond.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field

from coop_pipeline.gazetteer import TYPE_PREFIX, EntityResources, Entry, Title, slug

# Only the words chunking looks at: capitalised or numeric words, and the lower-case words that join
# names ("of", "and", "in"). Other lower-case words are left out: the gap they leave ends a chunk.
# The lookahead for a capital is lazy: it finds the "K" of "Kazakhstan" at once, where a greedy one ran
# to the word's end and back.
_TOKEN = re.compile(
    r"(?<![\w'’+\-.])(?:(?:of|the|and|for|on|in|de|du|des|la|le|von|van|der|bin|al|el|named|after)(?![\w'’+\-])"
    r"|(?=[\w'’+\-.]*?[A-Z0-9À-ÖØ-ÞĀ-ſА-Я])[^\W_](?:[\w'’+\-]|\.(?=[^\W_]))*\.?)"
)
_ANY_TOKEN = re.compile(r"[^\W_](?:[\w'’+\-]|\.(?=[^\W_]))*")
CONNECT = frozenset("of the and for on & de du des la le von van der bin al el named after".split())
_AFTER_IN = frozenset({"Office", "Embassy", "Consulate", "Representation", "Mission"})
_CUT_ENDS = frozenset(".s'’")  # the last letters of a word `tokenize` may cut: a period, a possessive
_ABBREV = frozenset({"St", "Co", "Dr", "Mr", "Mrs", "Ms", "Jr", "Ltd", "Inc", "Corp", "Prof", "Gen", "No"})
_SURNAME = re.compile(r"(?:ov|ev|yev|iev|in|ina|ova|eva|yeva|ko|uly|kyzy|uli|enko|sky|skiy|ski|bayev|baev|ayev|bekov|ova)$")
_CODE = re.compile(r"^(?:[A-Z]{1,4}-?\d+[A-Za-z]?|\d+(?:\.\d+)?[A-Za-z]?|[A-Z]{1,4})$")
_CRAFT_SHAPE = re.compile(r"^(?:[A-Z][A-Za-z]*Sat(?:[- ]?[\dA-Z][\w.]*)?|\d?[A-Z][A-Za-z]*-\d+[A-Z]?|[A-Z]+-?\d*[A-Z]?-[A-Z]+)$")
_YEARISH = re.compile(r"(?:[A-Z][A-Za-z]*(?:-[A-Z]+)?-(?:(?:19|20)\d\d|\d\d)|[A-Z]{3,}\d{2,4})")
_QUOTED = re.compile(r"\s*(?:\([A-Z]{2,6}\)\s*)?[\"«“‘']([^\"»”’'\n]{2,80})[\"»”’']")
_COMPOUND_ADJ = re.compile(r"^[A-Z][\w]*-(?:built|made|assisted|based|led|funded|owned|designed)$")
_JOINING = (" ", " & ")  # the gaps inside one name: "Space Agency", "Abeking & Rasmussen"
_SMALL_WORDS = frozenset("a an the of and or for on in at to by with from as is are was its their".split())
# Patterns of the context rules below, compiled once.
_OXFORD_TAIL = re.compile(r"(and (?:[A-Z][\w-]*)(?: [A-Z][\w-]*){0,3})")
_ENDS_TO_IN = re.compile(r"\b(?:to|in)\s+(?:the\s+)?$")
_TELLER_AFTER = re.compile(r"\s+(?:(?:special\s+)?correspondents?\b|(?:news\s+agency\s+)?reports\b)", re.IGNORECASE)
_CORRESPONDENT_OF = re.compile(r"correspondent of\s+$")
_JOINT_WORDS = re.compile(r"\b(?:Intergovernmental|Interstate|Interparliamentary)\b")
_LOWER_WORDS_AFTER = re.compile(r"\s+([a-z]+(?: [a-z]+)?)")
_LOWER_WORD_AFTER = re.compile(r"\s+([a-z]+)")
_ORG_WORD_BEFORE = re.compile(r"\b(company|firm|corporation)\s+$")
_ORG_APPOSITION = re.compile(r",\s+(?:a|an|the)\s+(?:[A-Z]\w+\s+)?(?:company|firm|corporation)\b")
_BRACKETED = re.compile(r"\s*\(([^()]{2,60})\)")
_AND_TITLE = re.compile(r"\s+and\s+((?:[A-Z]\w+ ?){1,4})")
_TO_PLACE_BEFORE = re.compile(r" (?:to|in) (?:the )?[A-Z][\w.-]*(?: [A-Z][\w.-]*){0,2} $")
# The lookbehind changes no result (the leftmost match starts a word anyway) but spares the search an
# attempt at every letter of the window: three times faster, and it runs before every name.
_WORDS_BEFORE = re.compile(r"(?<![A-Za-z.’'-])((?:[A-Za-z.’'-]+ ){1,4})$")
_WHO_HEADS = re.compile(r",\s+who\s+(?:heads|leads|chairs)\b")
_APPOSITION = re.compile(r",\s+(?:the |a |an |his |her |its |their |who (?:is|was) (?:the |a )?|currently |former |now )?((?:[A-Z][\w’'.-]*(?:’s|'s)? ){0,4})?((?:[a-z]+(?:’s|'s) )?[A-Za-z][A-Za-z ’'.-]{0,60})")
_POSSESSIVE_WORD = re.compile(r"[a-z]+(?:’s|'s) ")
_CLAUSE_END = re.compile(r"[;.]\s|,\s+(?:and |who |which |has |have |met |said )|\s(?:met|held|has|have|said|told|signed|visited)\s")
_PORTFOLIO = re.compile(r",?\s*(?:the\s+)?(?:[A-Z][\w-]*\s+)*?(?:Minister|Ministers|Deputy Minister)\s+(?:of|for)\s+(?:the\s+)?([A-Z][^.;]*?)(?:,\s+(?:[a-z]|[A-Z]\w+ [A-Z])|[.;]|$)")
_NAMES_BEFORE = re.compile(r"([A-Z][\w.-]+(?: [A-Z][\w.-]+){0,3}?)(?:’s|'s)?\s+(?:(?!(?:and|or|of|the|to|in|at|with|for|by|from|on|as)\s)[a-z-]+\s+){0,2}$")
_COUNTRY_APPOSITION = re.compile(r",\s+(?:a|an|the)\s+([A-Z][\w.-]+)\s+(?:[a-z-]+\s+)?(?:company|firm|corporation|agency|group|manufacturer|body|satellite|rocket|spacecraft)\b")
_OF_NAME_AFTER = re.compile(r"\s+of\s+(?:the\s+)?([A-Z][\w-]+(?:\s+[A-Z][\w-]+)?)")
_UNDER_THE = re.compile(r"\s+under\s+the\s+")
_COMMA_THE = re.compile(r",\s+(?:the\s+)?")
_CLOSES_NAME = re.compile(r"\s*[,.;)]")
_LIST_GOES_ON = re.compile(r"\s*,\s*(?:and\s|the\s+[A-Z]|[A-Z])")
_OPEN_BRACKET = re.compile(r"\s*\(\s*")
_ENDS_IN = re.compile(r"\bin\s+(?:the\s+)?$")
_ENDS_TO = re.compile(r"\bto\s+(?:the\s+)?$")
_CLOCK = re.compile(r"\d\s*(?:[ap]\.?m\.?)?\s+$", re.IGNORECASE)
_LEAD_SEGMENT = re.compile(r"[A-Z][a-z]{2,}(?=[A-Z\d-])")
_OF_COUNTRY = re.compile(r"\s+of\s+(?:the\s+)?(?:Republic\s+of\s+)?[A-Z][\w.-]*(?:\s+[A-Z][\w.-]*)?$")
_CODED = re.compile(r"^(?=.*\d)[A-Za-z\d]+(?:-[A-Za-z\d.]+)+$")
_ACRONYM = re.compile(r"\s*\(([A-Z][A-Za-z&]{1,9})\)")
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_LIST_TAIL = re.compile(r"((?:[A-Z][\w-]*(?: [A-Z][\w-]*){0,2},? ){0,3}and (?:[A-Z][\w-]*)(?: [A-Z][\w-]*){0,3})")
_ORG_WORDS = frozenset("company firm corporation agency group consortium enterprise bank".split())
_EVENT_WORDS = frozenset("exercise exercises forum exhibition summit conference symposium show".split())


class Tok:
    """A word of the text; `poss` when a possessive ("Kazakhstan’s") was cut off `text`."""

    __slots__ = ("text", "start", "end", "poss", "cap")

    def __init__(self, text: str, start: int, end: int, poss: bool = False):
        self.text, self.start, self.end, self.poss = text, start, end, poss
        self.cap = text != text.lower()  # any capital letter: "Kazakh", "iDirect", "sub-Saharan", "1KUNS-PF"


@dataclass
class Found:
    """One entity of the article: its id, type, country and the spans that mention it."""

    entity_id: str
    name: str
    entity_type: str
    country: str | None
    latitude: float | None = None
    longitude: float | None = None
    spans: list[tuple[int, int, bool]] = field(default_factory=list)  # start, end, is a name (not a title or coref)
    priority: int = 0  # 2 dictionary, 1 shape, 0 context
    international: bool = False  # an international body: no country
    aliases: set[str] = field(default_factory=set)  # other names the article implies ("Ministry of X" in "Kazakh Ministry of X")


@dataclass
class Position:
    person: str  # entity_id
    title: str
    of: str | None  # entity_id of the organization or country
    start: int  # evidence span: the person and the title
    end: int
    window: tuple[int, int] = (0, 0)  # where the organization or country of the title is named


def tokenize(text: str, lo: int = 0, hi: int | None = None) -> list[Tok]:
    """The words chunking looks at, with a trailing period kept only on abbreviations and initials and a
    possessive cut off (and remembered)."""
    toks = []
    append = toks.append
    for m in _TOKEN.finditer(text, lo, len(text) if hi is None else hi):
        word = m.group()
        start, end = m.span()
        last = word[-1]
        if last not in _CUT_ENDS:  # most words: nothing to cut
            append(Tok(word, start, end))
        elif last == ".":
            core = word[:-1]
            if len(core) == 1 or "." in core or core in _ABBREV:
                append(Tok(word, start, end))
            elif core:
                append(Tok(core, start, end - 1))
        elif last == "s" and len(word) > 2 and word[-2] in "'’":
            append(Tok(word[:-2], start, end - 2, True))
        elif last in "'’" and len(word) > 3 and word[-2] == "s":
            append(Tok(word[:-1], start, end - 1, True))
        else:
            append(Tok(word, start, end))
    return toks


from coop_pipeline import name_context as _ctx, name_resolve as _res  # noqa: E402  (mixins use this module's constants)


class ArticleNames(_ctx.ContextRules, _res.ResolvePass):
    """The entity analysis of one article (build, then read `.result`)."""

    def __init__(self, text: str, res: EntityResources, skip: tuple[int, int] = (0, 0), publisher: str | None = None):
        self.text, self.res, self.skip, self.publisher = text, res, skip, publisher
        self.cues = cues = res.cues
        self.not_name = cues["not_name"]
        self.found: dict[str, Found] = {}
        self.positions: list[Position] = []
        self.pending: list[tuple[list[Tok], int]] = []  # unknown name runs, resolved after persons are known
        self.toks = tokenize(text)
        self.country_counts: dict[str, int] = {}
        self.acronyms: dict[str, str] = {}  # "(ISRO)" after a name: the acronym stands for it in this article
        self.headlines = _headlines(text)
        self.headline_starts = [s for s, _ in self.headlines]
        self.persons: list[Found] = []  # the PERSON entries of `found`, in the same order (never removed)
        self.run()

    # -- bookkeeping ---------------------------------------------------------------------------
    def add(self, entity_id: str, name: str, etype: str, country: str | None, start: int, end: int, is_name: bool = True, priority: int = 0, lat=None, lon=None) -> Found:
        f = self.found.get(entity_id)
        if f is None:
            f = self.found[entity_id] = Found(entity_id, name, etype, country, lat, lon, priority=priority)
            if etype == "PERSON":
                self.persons.append(f)
        elif priority > f.priority or (priority == f.priority and is_name and len(name) > len(f.name) and etype != "COUNTRY" and not entity_id.startswith(("org:", "facility:", "craft:", "event:")) ):
            f.name = name
        if country and not f.country:
            f.country = country
        f.spans.append((start, end, is_name))
        if country and (etype == "COUNTRY" or priority == 2):
            self.country_counts[country] = self.country_counts.get(country, 0) + 1
        return f

    def _in_headline(self, pos: int) -> bool:
        """Is `pos` inside a Title Case line? A bisect over the line starts (the lines are sorted and
        disjoint): asked for every phrase, a scan of all the lines cost more than the answer."""
        k = bisect_right(self.headline_starts, pos) - 1
        return k >= 0 and pos < self.headlines[k][1]

    def add_entry(self, entry: Entry, start: int, end: int) -> Found:
        return self.add(entry.entity_id, entry.name, entry.entity_type, entry.country_iso3, start, end, True, 2, entry.latitude, entry.longitude)

    # -- pass 1: chunks ------------------------------------------------------------------------
    def run(self) -> None:
        toks, text, cues, not_name = self.toks, self.text, self.cues, self.not_name
        skip_lo, skip_hi = self.skip
        i, n = 0, len(toks)
        while i < n:
            t = toks[i]
            if skip_lo <= t.start < skip_hi or (t.start and text[t.start - 1] == "$"):
                i += 1
                continue
            if not t.cap:
                # "2025 Space Symposium": a year opens a name only when a capitalised word follows.
                if not (t.text[0].isdigit() and _YEAR.match(t.text) and i + 1 < n and toks[i + 1].cap and self._joined(t, toks[i + 1])):
                    i += 1
                    continue
            j = i + 1
            while j < n and not toks[j - 1].poss:
                prev, nxt = toks[j - 1], toks[j]
                if text[prev.end : nxt.start] not in _JOINING:
                    if self._list_continues(toks, i, j):
                        j += 1
                        continue
                    if nxt.text == "and" and j + 1 < n and toks[j + 1].cap and self._joined(nxt, toks[j + 1]) and self.text[prev.end : nxt.start] == ", " and self._list_continues(toks, i, j, oxford=True):
                        j += 2
                        continue
                    break
                if nxt.cap:
                    j += 1
                    continue
                if nxt.text.isdigit() and (prev.text.split("-")[0] in cues["spacecraft_series"] or (_YEAR.match(nxt.text) and "-" in prev.text and prev.text.split("-")[-1].isupper())):
                    j += 1
                    continue
                if nxt.text in CONNECT or nxt.text == "in":
                    k = j
                    while k < n and (toks[k].text in CONNECT or toks[k].text == "in") and self._joined(toks[k - 1], toks[k]):
                        k += 1
                    in_ok = nxt.text != "in" or any(x.text in _AFTER_IN for x in toks[i:j]) or self._dict_through(toks, i, k) or self._in_name(toks, i, j, k)
                    if in_ok and k < n and toks[k].cap and self._joined(toks[k - 1], toks[k]) and toks[k].text not in not_name:
                        j = k + 1
                        continue
                break
            if j == i + 1:  # most chunks are one word: "The", "Kazakhstan"
                if t.text in not_name:
                    i = j
                    continue
                form = self.res.forms.get(t.text)
                if form is not None and form.entry.entity_type == "COUNTRY" and not t.poss and "-" not in t.text:
                    self.add_entry(form.entry, t.start, t.end)
                    i = j
                    continue
                # An unknown single word ("Kipkosgey", "Baiterek-2"): straight to the name rules.
                if form is None and t.text not in self.res.first_words and t.text not in self.res.tail_starts and "-" not in t.text and not self._is_head(t.text) and not self._in_headline(t.start):
                    self.name_run([t], None, None)
                    i = j
                    continue
            chunk = toks[i:j]
            if not self.res.tail_starts.isdisjoint([tok.text for tok in toks[max(i, j - 3) : j]]):
                chunk += self._lower_tail(chunk)
            self.chunk(chunk)
            i = j
            while i < n and toks[i].start < chunk[-1].end:
                i += 1
        self.resolve()

    def _list_continues(self, toks: list[Tok], i: int, j: int, oxford: bool = False) -> bool:
        """", Innovation and Aerospace Industry" inside "Ministry of Digital Development, ...": a comma
        list that ends in "and" and belongs to a name with a head word; or ", LTD" closing a company."""
        gap = self.text[toks[j - 1].end : toks[j].start]
        if gap != ", " or not (toks[j].cap or oxford):
            return False
        if toks[j].text in self.cues["org_suffix"]:
            return True
        m = _LIST_TAIL.match(self.text, toks[j].start) if not oxford else _OXFORD_TAIL.match(self.text, toks[j].start)
        if not m:
            return False
        heads = self.res.name_heads
        if oxford:  # ", and Aerospace Industry Ministry" closes a name; ", and Dr Mohamed Iraqi" starts another
            return bool(set(m.group(1).split()) & heads)
        before = {t.text for t in toks[i:j]}
        titled = any(t.text in self.res.titles for t in toks[i:j])
        return bool(((before & heads or titled) and ("of" in before or "for" in before)) or set(m.group(1).split()) & heads)

    def _in_name(self, toks: list[Tok], i: int, j: int, k: int) -> bool:
        """"Working Group for Cooperation in Space Activities": an "in" inside a name with a head word
        and a complement, when what follows is not a place ("Forum in Astana" stays two names)."""
        if k >= len(toks) or not any(self._is_head(t.text) for t in toks[i:j]) or not any(t.text in ("for", "on", "of") for t in toks[i:j]):
            return False
        form = self.res.forms.get(toks[k].text)
        return form is None and toks[k].text not in self.not_name

    def _dict_through(self, toks: list[Tok], i: int, k: int) -> bool:
        """True when the phrase continued over "in" is a dictionary name ("... Measures in Asia")."""
        for extra in (1, 2):
            if k + extra - 1 < len(toks) and self.text[toks[i].start : toks[k + extra - 1].end] in self.res.forms:
                return True
        return False

    def _lower_tail(self, chunk: list[Tok]) -> list[Tok]:
        """Lower-case words that finish a dictionary name after a chunk ("Baikonur cosmodrome")."""
        forms, text = self.res.forms, self.text
        tail = []
        pos = chunk[-1].end
        for m in _ANY_TOKEN.finditer(text, pos, min(len(text), pos + 60)):
            if text[pos : m.start()] != " " or len(tail) == 4:
                break
            tail.append(Tok(m.group(), m.start(), m.end()))
            pos = m.end()
        for extra in range(len(tail), 0, -1):
            for back in range(max(0, len(chunk) - 3), len(chunk)):
                if text[chunk[back].start : tail[extra - 1].end] in forms:
                    return tail[:extra]
        return []

    def _joined(self, a: Tok, b: Tok) -> bool:
        return self.text[a.end : b.start] in _JOINING

    def _form_at(self, chunk: list[Tok], i: int, table: dict, lengths: dict[str, frozenset[int]], max_words: int) -> tuple[int, object] | None:
        """Longest dictionary form starting at chunk[i] (a word in `first_words`): (number of tokens, value).
        Only the spans with the length of a key that starts with the word are looked up (`lengths`)."""
        possible = lengths.get(chunk[i].text)
        if not possible:
            return None
        limit = min(len(chunk) - i, max_words)
        for x in range(i, i + limit - 1):
            if chunk[x].poss:  # a possessive ends any name: "Kazakhstan’s Ministry"
                limit = x - i + 1
                break
        start = chunk[i].start
        for k in range(limit, 0, -1):
            end = chunk[i + k - 1].end
            if end - start in possible:
                value = table.get(self.text[start:end])
                if value is not None:
                    return k, value
        return None

    def chunk(self, chunk: list[Tok]) -> None:
        """Split a capitalised phrase into dictionary forms, titles and runs of unknown words."""
        forms, titles, first_words = self.res.forms, self.res.titles, self.res.first_words
        items: list[tuple[str, int, int, object]] = []  # kind, i, j (chunk token range), value
        i = 0
        while i < len(chunk):
            # Most words open no form nor title: one set look-up spares both searches.
            opens = chunk[i].text in first_words
            hit = opens and self._form_at(chunk, i, forms, self.res.form_lengths, self.res.max_form_words)
            if hit:
                k, form = hit
                j = i + k
                etype = form.entry.entity_type
                # "Aerospace Committee of the Ministry of ...": the dictionary name opens a longer name.
                if etype in ("ORGANIZATION", "FACILITY") and j < len(chunk) and chunk[j].text == "of" and not chunk[j - 1].poss:
                    for x in range(i, j):
                        items.append(("word", x, x + 1, chunk[x]))
                    i = j
                    continue
                if etype == "SPACECRAFT" or chunk[i].text in self.cues["spacecraft_series"]:
                    while j < len(chunk) and _CODE.match(chunk[j].text) and not chunk[j - 1].poss:
                        j += 1
                items.append(("dict", i, j, form))
                i = j
                continue
            hit = opens and self._form_at(chunk, i, titles, self.res.title_lengths, self.res.max_title_words)
            if hit:
                items.append(("title", i, i + hit[0], hit[1]))
                i += hit[0]
                continue
            tok = chunk[i]
            if "-" in tok.text:  # "Kazakh-Chinese", "Kazakhstan-Kenya": the countries of a compound
                offset = tok.start
                for part in tok.text.split("-"):
                    form = forms.get(part)
                    if form and form.entry.entity_type == "COUNTRY":
                        self.add_entry(form.entry, offset, offset + len(part))
                    offset += len(part) + 1
            items.append(("word", i, i + 1, tok))
            i += 1
        self.segments(chunk, items)

    def _is_head(self, word: str) -> bool:
        return word in self.res.heads

    def segments(self, chunk: list[Tok], items: list) -> None:
        """Group items into phrases (split at titles and at an "and" between two names) and classify each."""
        prev_title: tuple[Title, int, int] | None = None
        prefix_country: str | None = None
        in_complement = False  # inside "Minister of Digital Development, Innovation and ...": a portfolio
        idx = 0
        while idx < len(items):
            kind, i, j, value = items[idx]
            if kind == "title":
                if not (prev_title and prev_title[0].office and not value.office):  # "Associate Director Dr. X"
                    prev_title = (value, chunk[i].start, chunk[j - 1].end)
                in_complement = False
                idx += 1
                continue
            lead = []
            while idx < len(items) and items[idx][0] == "word" and chunk[items[idx][1]].text in CONNECT:
                lead.append(chunk[items[idx][1]].text)
                idx += 1
            if idx >= len(items):
                break
            if items[idx][0] == "title":
                continue
            end = idx + 1
            while end < len(items) and items[end][0] != "title":
                it = items[end]
                if it[0] == "word" and chunk[it[1]].text in ("and", "&") and self._split_and(chunk, items[idx:end], items[end + 1 :]):
                    break
                end += 1
            phrase = items[idx:end]
            while phrase and phrase[-1][0] == "word" and chunk[phrase[-1][1]].text in CONNECT:
                phrase.pop()
            followed_by_title = end < len(items) and items[end][0] == "title"
            if phrase:
                complement = bool(prev_title) and (in_complement or (bool(lead) and lead[0] in ("of", "for", "on")))
                in_complement = complement
                prefix_country = self.phrase(chunk, phrase, prev_title, prefix_country, modifier=followed_by_title, complement=complement)
            if not followed_by_title and not phrase:
                prev_title = None
            # Otherwise the title still governs the next phrase: "Minister of Digital Development, Innovation
            # and Aerospace Industry Bagdat Musin" is one portfolio split at its "and".
            idx = end

    def _split_and(self, chunk: list[Tok], left: list, right: list) -> bool:
        """Does an "and" end one name and start another? Not inside "Ministry of Defense and Aerospace
        Industry" or "Abeking & Rasmussen Company"; yes in "Kazakhstan and France", "X Agency and the Y Centre"."""
        left_text = self.text[chunk[left[0][1]].start : chunk[left[-1][1]].end]
        if ", " in left_text and " and " not in left_text.rsplit(", ", 1)[1]:
            return False  # "Assembly, Integration and Test Center": the "and" closes a list inside one name
        right_part = []
        for it in right:
            if it[0] == "word" and chunk[it[1]].text in ("and", "&"):
                break
            right_part.append(it)
        while right_part and right_part[0][0] == "word" and chunk[right_part[0][1]].text in CONNECT:
            right_part = right_part[1:]
        if not right_part:
            return False
        left_words_head = any(it[0] == "word" and self._is_head(chunk[it[1]].text) for it in left)
        if left[-1][0] == "dict" and left[-1][3].entry.entity_type in ("COUNTRY", "LOCATION") and right_part[0][0] == "word" and not left_words_head:
            return True  # "Oleg Petrenko of Russia and Sarah Collins of ...": the place closes the first name
        left_head = any(it[0] == "word" and self._is_head(chunk[it[1]].text) for it in left) or left[-1][0] == "dict"
        right_head = any(it[0] == "word" and self._is_head(chunk[it[1]].text) for it in right_part)
        right_dict = right_part[0][0] == "dict" or (right_part[0][0] == "word" and bool(_CRAFT_SHAPE.match(chunk[right_part[0][1]].text)))
        if left_head:
            return right_head or right_dict
        return not right_head

    def phrase(self, chunk: list[Tok], items: list, title, prefix_country: str | None, modifier: bool = False, complement: bool = False) -> str | None:
        """Classify one phrase; returns the country it names, for a title that follows."""
        cues, text = self.cues, self.text
        words = [it for it in items if it[0] == "word"]
        dicts = [it for it in items if it[0] == "dict"]
        heads = [it for it in words if self._is_head(it[3].text)]
        country = None
        if dicts:  # most phrases have none: no generators built for nothing
            country = next((f.entry.country_iso3 for _, _, _, f in dicts if f.entry.entity_type == "COUNTRY"), None)
            country = country or next((f.entry.country_iso3 for _, _, _, f in dicts if f.entry.country_iso3), None)
        # "Vladimir Putin", "Dr Mohamed Iraqi", "Satoshi Takamatsu": a city or demonym inside a person's name.
        if words and dicts and not heads and len(items) <= 4 and all(
            it[0] == "word" or (it[2] - it[1] == 1 and (it[3].entry.entity_type == "LOCATION" or it[3].demonym)) for it in items
        ):
            toks = [chunk[it[1]] for it in items]
            if toks[0].text not in self.not_name and (title or self._person_context(toks)):
                self.name_run(toks, title, prefix_country)
                return prefix_country
        for _, i, j, form in dicts:
            if self._is_publisher(form.entry, chunk[i].start, chunk[j - 1].end):
                continue
            # Inside a name with a head word ("Ministry of Europe ..."), only countries count on their own,
            # and the place of an office ("UN Office in Nairobi").
            if heads and form.entry.entity_type != "COUNTRY" and not (form.entry.entity_type == "LOCATION" and text[max(0, chunk[i].start - 4) : chunk[i].start] == " in "):
                continue
            self._emit_dict(chunk, i, j, form)
        while items and items[0][0] == "word" and (items[0][3].text in self.not_name or items[0][3].text in CONNECT):
            items = items[1:]
        words = [it for it in items if it[0] == "word"]
        if not words or modifier:
            return country
        if self._in_headline(chunk[items[0][1]].start):
            self.pending.append(([chunk[it[1]] for it in words], chunk[words[0][1]].start))
            return country
        if heads:
            self._shaped(chunk, items, heads, title, country)
            return country
        run_start = next(k for k, it in enumerate(items) if it[0] == "word")
        run = items[run_start:]
        toks = [chunk[it[1]] for it in run]
        # "Nursultan Nazarbayev of Kazakhstan": a name, then "of" and the country it serves.
        of_at = next((k for k, it in enumerate(run) if it[0] == "word" and it[3].text == "of"), None)
        if of_at and run_start == 0 and not complement and all(it[0] == "word" for it in run[:of_at]) and run[of_at + 1 :] and run[-1][0] == "dict":
            entry = run[-1][3].entry
            self.name_run([chunk[it[1]] for it in run[:of_at]], title, entry.country_iso3)
            person = self._found_at(chunk[run[0][1]].start, chunk[run[of_at - 1][1]].end)
            if person is not None and person.entity_type == "PERSON" and entry.entity_type == "ORGANIZATION" and entry.country_iso3 is None:
                person.international = True  # "Sarah Collins of the European Space Agency"
            return country
        if any(it[0] != "word" for it in run):
            return country
        if complement and run_start == 0:
            # "Minister of Digital Development, Innovation and Aerospace Industry Bagdat Musin": the portfolio
            # is not a name, but a person may close it.
            for k in (2,):
                if len(toks) > k and _SURNAME.search(toks[-1].text.lower()) and not any(t.text in CONNECT for t in toks[-k:]):
                    self.name_run(toks[-k:], title, prefix_country)
                    break
            return country
        lead_country = country if run_start > 0 else prefix_country
        if run_start > 0 and _ENDS_TO_IN.search(text[max(0, chunk[items[0][1]].start - 8) : chunk[items[0][1]].start]):
            lead_country = None  # "Ambassador to Kazakhstan Paolo Ricci": Kazakhstan is where he serves
        self.name_run(toks, title, lead_country)
        return country

    def _is_publisher(self, entry: Entry, start: int, end: int) -> bool:
        """The article's own publisher, or an agency named as the teller ("a Kazinform correspondent")."""
        if entry.entity_type != "ORGANIZATION":
            return False
        if _TELLER_AFTER.match(self.text[end : end + 30]):
            return True
        return bool(_CORRESPONDENT_OF.search(self.text[max(0, start - 20) : start]))

    def _emit_dict(self, chunk: list[Tok], i: int, j: int, form) -> None:
        start, end = chunk[i].start, chunk[j - 1].end
        entry = form.entry
        if entry.entity_type == "LOCATION" and self.text.startswith(" time", end) and _CLOCK.search(self.text, max(0, start - 12), start):
            return  # "03.16 am Moscow time" is a time zone
        if j - i > 1 and entry.entity_type == "SPACECRAFT" and self.text[chunk[i].start : chunk[i].end] != self.text[start:end]:
            name = self.text[start:end]
            if name not in self.res.forms:
                self.add(f"craft:{slug(name)}", name, "SPACECRAFT", entry.country_iso3, start, end, True, 2)
                return
        if entry.entity_type in ("ORGANIZATION", "FACILITY") and j - i > 1:
            # "UAE Space Agency", "Kenya Space Agency": the country the name opens with is named too.
            for k in (2, 1):
                if i + k < j:
                    lead = self.res.forms.get(self.text[start : chunk[i + k - 1].end])
                    if lead and lead.entry.entity_type == "COUNTRY":
                        self.add_entry(lead.entry, start, chunk[i + k - 1].end)
                        break
        self.add_entry(entry, start, end)

    def _shaped(self, chunk: list[Tok], items: list, heads: list, title, country: str | None) -> None:
        """An organization, facility, event or craft recognised by its head word."""
        cues, text = self.cues, self.text
        last_head = heads[-1]
        # After the last head word, an "of ..." complement belongs to the name; other words start a new name.
        cut = len(items)
        for k, it in enumerate(items):
            if it is last_head:
                nxt = items[k + 1] if k + 1 < len(items) else None
                if nxt is not None and not (nxt[0] == "word" and (nxt[3].text in CONNECT or nxt[3].text == "in" or self._is_head(nxt[3].text))):
                    cut = k + 1
                break
        name_items, rest = items[:cut], items[cut:]
        i, j = name_items[0][1], name_items[-1][2]
        start, end = chunk[i].start, chunk[j - 1].end
        name = text[start:end]
        head = last_head[3].text
        etype = "EVENT" if head in cues["event_head"] else "FACILITY" if head in cues["facility_head"] else "SPACECRAFT" if head in cues["spacecraft_head"] else "ORGANIZATION"
        inner = [f.entry for kind, _, _, f in name_items if kind == "dict"]
        international = any(e.entity_type == "ORGANIZATION" and e.country_iso3 is None for e in inner)
        own = next((e.country_iso3 for e in inner if e.entity_type == "COUNTRY"), None)
        # A leading demonym or possessive country ("Kazakh Ministry of ...") is not part of the core name.
        core_start = start
        if name_items[0][0] == "dict" and name_items[0][3].entry.entity_type == "COUNTRY" and len(name_items) > 1 and (name_items[0][3].demonym or chunk[name_items[0][2] - 1].poss):
            core_start = chunk[name_items[1][1]].start
            own = name_items[0][3].entry.country_iso3
        core = text[core_start:end]
        stripped = _OF_COUNTRY.sub("", core)
        if stripped != core and _is_country(self.res, core[len(stripped):]):
            own = own or self.res.forms[re.sub(r"^\s+of\s+(?:the\s+)?(?:Republic\s+of\s+)?", "", core[len(stripped):])].entry.country_iso3
            core = stripped
        if not own and not international:
            own = self._country_near(start) or self._country_after(end)
        paired = any("-" in t.text and all(p in self.res.forms for p in t.text.split("-")) for t in chunk[i:j])
        if _JOINT_WORDS.search(name) or (paired and head in cues["joint_body_head"]):  # "Kazakh-Chinese Working Group"
            international = etype != "FACILITY"
        core_words = [w for w in core.split() if w not in CONNECT]
        if name_items[0][0] == "dict" and name_items[0][3].entry.entity_type == "COUNTRY" and core_start == start:
            core_words = core_words[len(text[chunk[name_items[0][1]].start : chunk[name_items[0][2] - 1].end].split()) :]
        quoted = _QUOTED.match(text, end)
        if quoted and not rest:  # Research Center "Garysh-Ekologiya", JSC National Company (NC) 'Kazakhstan Gharysh Sapary'
            self._quoted_name(quoted.group(1), etype, own or country, start, quoted.end())
            return
        if all(w in cues["org_suffix"] for w in core_words) or (len(core_words) < 2 and not ((core.isupper() and len(core) > 1) or head in cues["unique_head"])):
            if rest:
                self._rest(chunk, rest, title, own or country)
            return  # "the Kazakh Agency": an unnamed reference, not an entity
        if self.publisher and (name == self.publisher or core == self.publisher):
            return
        prefix = re.split(r"\s+of\s+", core, maxsplit=1)[0]
        known = self.res.forms.get(core) or (self.res.forms.get(prefix) if prefix != core else None)
        if known and known.entry.entity_type != "COUNTRY":
            f = self.add_entry(known.entry, start, end)
        else:
            cid = None if international else (own or country)
            # The id carries the country unless the core name names it ("Kenya Space Agency").
            has_country = any(kind == "dict" and f.entry.entity_type == "COUNTRY" and text[chunk[a].start : chunk[b - 1].end] in core for kind, a, b, f in name_items)
            entity_id = f"{TYPE_PREFIX[etype]}:{slug(core)}" + (f"-{cid.lower()}" if cid and not has_country else "")
            f = self.add(entity_id, name, etype, cid, start, end, True, 1)
            if international:
                f.country = None
                f.international = True
        if core != name:
            f.aliases.add(core)
        if " in " in name:  # "U.S. Embassy in Moscow" is also "U.S. Embassy"
            f.aliases.add(name.split(" in ", 1)[0])
        self._acronym(f, end)
        if rest:
            self._rest(chunk, rest, title, own or country)

    def _quoted_name(self, quoted: str, etype: str, country: str | None, start: int, end: int) -> None:
        """The quoted proper name after a generic head is the entity; the quoted chunk is matched on its own."""
        inner = quoted.strip()
        form = self.res.forms.get(inner) or self.res.forms.get(re.sub(r"^(?:NC|JSC|National Company)\s+", "", inner))
        if form is None and len(inner.split()) <= 6:
            f = self.add(f"{TYPE_PREFIX[etype]}:{slug(inner)}", inner, etype, country, start, end, True, 1)
            f.aliases.add(self.text[start:end])
        elif form is not None:
            self.add_entry(form.entry, start, end)

    def _rest(self, chunk: list[Tok], rest: list, title, country: str | None) -> None:
        """Words after a complete name: "... Kenya Space Agency Hillary B. Kipkosgey"."""
        if rest and all(it[0] == "word" for it in rest):
            self.name_run([chunk[it[1]] for it in rest], title, country)

    def _acronym(self, f: Found, end: int) -> None:
        m = _ACRONYM.match(self.text, end)
        if m:
            f.spans.append((m.start(1), m.end(1), True))
            self.acronyms[m.group(1)] = f.entity_id

    # -- name runs -----------------------------------------------------------------------------
    def _person_context(self, toks: list[Tok]) -> bool:
        after = self.text[toks[-1].end : toks[-1].end + 160]
        before = self._title_before(toks[0].start)
        return bool(before) or bool(self._apposition(after))

    def name_run(self, toks: list[Tok], title, lead_country: str | None) -> None:
        """A run of unknown capitalised words: a person, a spacecraft, an event, an acronym, or nothing."""
        text, cues = self.text, self.cues
        not_name = self.not_name
        while toks and (toks[0].text in not_name or _COMPOUND_ADJ.match(toks[0].text)):
            toks = toks[1:]
        while toks and toks[-1].text in not_name:  # "Aidyn Aimbetov Photo courtesy of ..."
            toks = toks[:-1]
        if not toks:
            return
        start, end = toks[0].start, toks[-1].end
        name = text[start:end]
        if len(toks) == 1 and name in self.acronyms:
            self.found[self.acronyms[name]].spans.append((start, end, True))
            return
        if _YEAR.match(toks[0].text):
            return
        if self._craft(toks, name):
            return
        before = self._title_before(toks[0].start)
        title = title or before
        if len(toks) > 4 or any(t.text[0].isdigit() for t in toks):
            return
        after = text[end : end + 160]
        apposition = self._apposition(after)
        if apposition:
            # The title's own words run to the next comma: ", Ambassador of Kazakhstan to Kenya, ..."
            comma = after.find(",", apposition[1] + 1)
            clause_end = self._clause_end(after)
            stop = min(clause_end, comma if comma > 0 else len(after))
            apposition = (apposition[0], end + apposition[1], end + stop)
        is_person = bool(title and title[0]) or bool(apposition)
        if not is_person and len(toks) >= 2:
            nxt = _LOWER_WORDS_AFTER.match(after)
            is_person = bool(_SURNAME.search(toks[-1].text.lower()) and all(len(t.text) > 1 for t in toks)) or bool(nxt and (nxt.group(1) in cues["person_verb"] or nxt.group(1).split()[0] in cues["person_verb"]))
            is_person = is_person or (len(toks) <= 3 and toks[0].text in self.res.given_names and toks[-1].text not in self.res.given_names)
            if is_person and len(toks) > 3:  # "Aerospace Industry Bagdat Musin": a name is its last words
                toks = toks[-2:]
                start, name = toks[0].start, text[toks[0].start : end]
        if not is_person:
            org_after = _LOWER_WORD_AFTER.match(after)
            org_before = _ORG_WORD_BEFORE.search(text[max(0, start - 20) : start])
            if org_after and org_after.group(1) in _ORG_WORDS or org_before or _ORG_APPOSITION.match(after):
                cid = lead_country or self._country_near(start) or self._country_after(end)
                self.add(f"org:{slug(name)}" + (f"-{cid.lower()}" if cid else ""), name, "ORGANIZATION", cid, start, end, True, 1)
                return
            if org_after and org_after.group(1) in _EVENT_WORDS and len(toks) >= 2:
                self.add(f"event:{slug(name)}", name, "EVENT", lead_country, start, end, True, 1)
                return
            self.pending.append((toks, start))
            return
        office = title if title and title[0] and (title[0].office or not apposition) else apposition
        country = lead_country or (self._country_in(after[:clause_end]) if apposition else None)
        if not country and title and title[1] < start:
            country = self._country_near(title[1]) or self._country_in(text[title[1] : start])
        m = _BRACKETED.match(after)
        if not country and m:  # "Sergei Volkov (Roskosmos)", "Andreas Mogensen (ESA, Denmark)"
            country = self._country_in(m.group(1))
        self.person(toks, office, country)
        if apposition:
            self._second_title(toks, end, apposition, country)

    def _second_title(self, toks: list[Tok], end: int, first, country: str | None) -> None:
        """A second title: ", Ambassador of X to Y, Permanent Representative of X ...", "Deputy Prime Minister and Minister of ..."."""
        text = self.text
        rest = text[first[2] : first[2] + 160]
        second = self._apposition(rest)
        if second and second[0].office:
            self.person(toks, (second[0], first[2] + second[1], first[2] + self._clause_end(rest)), country)
            return
        m = _AND_TITLE.search(text[first[1] : first[2]])
        if m:
            words = m.group(1).split()
            for k in range(len(words), 0, -1):
                title = self.res.titles.get(" ".join(words[:k]))
                if title and title.office:
                    self.person(toks, (title, first[1] + m.start(1), first[2]), country)
                    return

    def _craft(self, toks: list[Tok], name: str) -> bool:
        """Spacecraft by shape (KazSat-3, Soyuz MS-17, RwaSat-1) and named events by a year (KADEX-2018)."""
        first = toks[0].text
        family = first.split("-")[0]
        series = self.cues["spacecraft_series"]
        if _YEARISH.fullmatch(name.replace(" ", "-")) and family not in series:
            base = self.res.forms.get(family)
            if base and base.entry.entity_type == "EVENT":  # KADEX-2016 is an edition of KADEX
                self.add_entry(base.entry, toks[0].start, toks[-1].end)
            else:
                self.add(f"event:{slug(name)}", name, "EVENT", None, toks[0].start, toks[-1].end, True, 1)
            return True
        coded = len(toks) == 1 and _CODED.match(first) and any(w in self._sentence_at(toks[0].start) for w in self.cues["spacecraft_word"])
        if family in series or (_CRAFT_SHAPE.match(first) and len(toks) <= 2) or coded:
            if family in self.res.series:
                country = self.res.series[family]
            else:
                base = self.res.forms.get(family)
                country = base.entry.country_iso3 if base else (self._country_prefix(first) or self._country_near(toks[0].start) or self._country_after(toks[-1].end))
            self.add(f"craft:{slug(name)}", name, "SPACECRAFT", country, toks[0].start, toks[-1].end, True, 1)
            return True
        return False

    def person(self, toks: list[Tok], office, country: str | None) -> None:
        """A person, merged with an earlier mention of the same person; `office` is (Title, start, end)."""
        text = self.text
        start, end = toks[0].start, toks[-1].end
        name = text[start:end]
        country = country or self._country_near(start) or self._country_of(end) or self._demonym_apposition(end)
        target = self._person_match(toks)
        if target is None:
            target = self.add(f"person:{slug(name)}", name, "PERSON", country, start, end, True, 1)
        else:
            target.spans.append((start, end, True))
            if country and not target.country:
                target.country = country
        if office and office[0].office:
            title, t_start, t_end = office
            if t_start < start:  # title first: its organization is between the title and the name, or just before the title
                sentence_start = max(self.text.rfind(". ", 0, t_start) + 2, self.text.rfind("\n", 0, t_start) + 1)
                window = (max(0, t_start - 40, sentence_start), start)
            else:  # apposition: the organization follows the title
                window = (t_start, t_end)
            if not any(p.person == target.entity_id and p.title == title.head for p in self.positions):
                self.positions.append(Position(target.entity_id, title.head, None, min(start, t_start), max(end, t_end if t_start > start else end), window))

    # -- pass 2: what only the whole article tells ---------------------------------------------

def _headlines(text: str) -> list[tuple[int, int]]:
    """Lines in Title Case ("European Rocket Launches Kazakh Satellite"): every word looks like a name there,
    so only dictionary names and people named elsewhere in the article are taken from them."""
    out, offset = [], 0
    for line in text.split("\n"):
        if not 15 <= len(line) <= 160 or line.rstrip().endswith("."):  # paragraphs are longer, sentences end in "."
            offset += len(line) + 1
            continue
        words = [w for w in line.split() if w[0].isalpha() and w.lower() not in _SMALL_WORDS]
        if len(words) >= 4 and sum(w[0].isupper() for w in words) >= 0.85 * len(words):
            out.append((offset, offset + len(line)))
        offset += len(line) + 1
    return out


def _in_order(short: list[str], long: list[str]) -> bool:
    """Each short word (a name or an initial) stands for one of the long words, in order."""
    k = 0
    for w in short:
        while k < len(long) and not long[k].startswith(w):
            k += 1
        if k == len(long):
            return False
        k += 1
    return True


def _is_country(res: EntityResources, phrase: str) -> bool:
    name = re.sub(r"^\s+of\s+(?:the\s+)?(?:Republic\s+of\s+)?", "", phrase)
    form = res.forms.get(name)
    return bool(form and form.entry.entity_type == "COUNTRY")

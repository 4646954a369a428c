"""The second pass over an article's names: merges, bare titles, the organizations of positions and
the countries only the whole article tells. A mixin of `names.ArticleNames`.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import accumulate
from typing import TYPE_CHECKING

from coop_pipeline import names as _n

if TYPE_CHECKING:
    from coop_pipeline.names import Found


class ResolvePass:
    """What is decided once every name of the article is known."""

    def _merge(self, keep: Found, other: Found) -> None:
        keep.spans.extend(other.spans)
        keep.aliases |= other.aliases | ({other.name} if other.name != keep.name else set())
        keep.country = keep.country or other.country
        del self.found[other.entity_id]
        for p in self.positions:
            if p.person == other.entity_id:
                p.person = keep.entity_id
    def _merge_appositions(self) -> None:
        """"KADEX-2018, the V International Exhibition ...", "KazEOSat-1 (Kazakhstan Earth Observation Satellite 1)":
        two names of one thing side by side are one entity; "X under the Cabinet of Ministers" is X's full name."""
        text = self.text
        kinds = ("ORGANIZATION", "FACILITY", "EVENT", "SPACECRAFT")
        spans = sorted(((s, e, f.entity_id) for f in self.found.values() if f.entity_type in kinds for s, e, named in f.spans if named), key=lambda x: (x[0], -x[1]))
        for (s1, e1, a), (s2, e2, b) in zip(spans, spans[1:]):
            if a == b or a not in self.found or b not in self.found:
                continue
            fa, fb = self.found[a], self.found[b]
            gap, after = text[e1:s2], text[e2 : e2 + 12]
            compatible = fa.entity_type == fb.entity_type or "FACILITY" in (fa.entity_type, fb.entity_type) and "EVENT" not in (fa.entity_type, fb.entity_type) and "SPACECRAFT" not in (fa.entity_type, fb.entity_type)
            if _n._UNDER_THE.fullmatch(gap) and fb.entity_type == "ORGANIZATION" and fb.priority < 2:
                fa.aliases.add(text[s1:e2])
                del self.found[b]
                continue
            apposition = _n._COMMA_THE.fullmatch(gap) and _n._CLOSES_NAME.match(after) and not _n._LIST_GOES_ON.match(after)
            bracket = _n._OPEN_BRACKET.fullmatch(gap) and after.startswith(")")
            if compatible and (apposition or bracket):
                keep, other = (fa, fb) if fa.priority >= fb.priority else (fb, fa)
                self._merge(keep, other)
        # "Proton" beside "Proton-M": the family name stands for the one member the article names.
        crafts = [f for f in self.found.values() if f.entity_type == "SPACECRAFT"]
        for f in crafts:
            if f.name in self.res.series:
                members = [g for g in crafts if g is not f and g.entity_id in self.found and re.match(re.escape(f.name) + r"[- ]\S", g.name)]
                if len(members) == 1 and f.entity_id in self.found:
                    self._merge(members[0], f)
    def resolve(self) -> None:
        for toks, start in self.pending:
            target = self._person_match(toks)
            if target is not None:
                target.spans.append((toks[0].start, toks[-1].end, True))
            elif len(toks) == 1 and self.acronyms.get(toks[0].text) in self.found:
                self.found[self.acronyms[toks[0].text]].spans.append((toks[0].start, toks[-1].end, True))
        self._merge_appositions()
        self._bare_titles()
        self._position_orgs()
        for p in self.positions:
            person, of = self.found[p.person], self.found.get(p.of or "")
            if person.country is None and of is not None and of.country:
                person.country = of.country
        self._event_places()
        main = self.main_country()
        for f in self.found.values():
            if f.country is None and f.entity_type == "PERSON" and f.priority < 2 and _n._SURNAME.search(f.name.split()[-1].lower()):
                post = [(n, c) for c, n in self.country_counts.items() if c in self.cues["postsoviet"]]
                if post:
                    f.country = max(post)[1]
            # Names found by shape or context take the article's main country unless they are international.
            if f.country is None and f.priority < 2 and not f.international and f.entity_type not in ("LOCATION", "EVENT"):
                f.country = main
    def _event_places(self) -> None:
        """A named event belongs to the country of the place it is held in ("KADEX-2018 ... in Astana")."""
        places = sorted(((s, f) for f in self.found.values() if f.entity_type in ("LOCATION", "COUNTRY") and f.country for s, _, named in f.spans if named), key=lambda x: x[0])
        for f in self.found.values():
            if f.entity_type != "EVENT" or f.country or f.priority == 2:
                continue
            for _, e, named in sorted(f.spans):
                hit = next((pf for ps, pf in places if e < ps <= e + 80 and _n._ENDS_IN.search(self.text[e:ps]) and "." not in self.text[e:ps]), None)
                if hit:
                    f.country = hit.country
                    break
    def _bare_titles(self) -> None:
        """"the Minister", "Director General" with no name: the person last named with that title."""
        offices = {}
        for p in self.positions:
            offices.setdefault(p.title, []).append((p.start, p.person))
        if not offices:
            return
        named = sorted((s, e) for f in self.found.values() for s, e, _ in f.spans)
        named_starts = [a for a, _ in named]
        reach = list(accumulate((b for _, b in named), max))  # the furthest end of the mentions so far
        by_head = self.res.titles_by_head
        forms = [form for _, form in sorted(x for head in offices for x in by_head.get(head, ()))]
        for s, e, form in _bare_uses(self.text, forms):
            title = self.res.titles[form]
            k = bisect_right(named_starts, s)  # the mentions starting at or before s; one covers s if it reaches past it
            if (k and reach[k - 1] > s) or self.skip[0] <= s < self.skip[1]:
                continue
            before = [p for p in offices.get(title.head, []) if p[0] < s]
            if before:
                self.found[before[-1][1]].spans.append((s, e, False))

    def _position_orgs(self) -> None:
        """The organization (or else the country) each title belongs to, named in the title's window."""
        spans = sorted(((s, e, f) for f in self.found.values() for s, e, named in f.spans if named and f.entity_type in ("ORGANIZATION", "FACILITY", "COUNTRY")), key=lambda x: (x[0], x[1], x[2].entity_id))
        for p in self.positions:
            lo, hi = p.window
            inside = [(s, e, f) for s, e, f in spans if lo <= s and e <= hi]
            orgs = [x for x in inside if x[2].entity_type != "COUNTRY"]
            countries = [x for x in inside if x[2].entity_type == "COUNTRY" and not _n._ENDS_TO.search(self.text[max(0, x[0] - 8) : x[0]])]
            pick = (orgs[-1] if orgs and lo < p.start else orgs[0]) if orgs else (countries[0] if countries else None)
            if pick is not None:
                p.of = pick[2].entity_id
            else:
                person = self.found[p.person]
                p.of = f"country:{person.country}" if person.country and f"country:{person.country}" in self.found else None
    def main_country(self) -> str | None:
        if not self.country_counts:
            return None
        return max(self.country_counts.items(), key=lambda kv: kv[1])[0]


_WORD_EDGE = re.compile(r"\b")
_NAMED_AFTER = re.compile(r" of the [A-Z]| [A-Z][a-z]")  # "Minister of the Interior", "Minister Beibut"


def _bare_uses(text: str, forms: list[str]) -> list[tuple[int, int, str]]:
    """(start, end, form) of the uses of these titles as whole words not followed by a name or "of the
    ...", left to right without overlaps, the first form in `forms` winning where several start (as one
    regex alternation of them would find; the set of forms changes with every article, and compiling
    such a regex per article cost more than the rest of the entity analysis)."""
    hits = []
    for rank, form in enumerate(forms):
        start = text.find(form)
        while start >= 0:
            end = start + len(form)
            if _WORD_EDGE.match(text, start) and _WORD_EDGE.match(text, end) and not _NAMED_AFTER.match(text, end):
                hits.append((start, rank, end, form))
            start = text.find(form, start + 1)
    uses, taken = [], 0
    for start, _, end, form in sorted(hits):
        if start >= taken:
            uses.append((start, end, form))
            taken = end
    return uses

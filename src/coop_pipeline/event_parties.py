"""Who took part in an event: its source, targets and party countries, read from the entities of the
trigger's sentence; and the events one trigger stands for (one per partner of a list, one per year of
a list)."""

from __future__ import annotations

import datetime as _dt
import re
from collections import Counter

from coop_pipeline.event_found import Found, Mention
from coop_pipeline.event_status import EventDate

PLACE_TYPES = frozenset({"LOCATION", "FACILITY"})
PARTY_TYPES = frozenset({"PERSON", "ORGANIZATION", "COUNTRY", "FACILITY", "SPACECRAFT"})
EVENT_GUESTS = frozenset({"CONSULT", "INVITE", "VISIT"})
ACTOR_TYPES = frozenset({"PERSON", "ORGANIZATION"})
# Types whose act always has two sides: a one-sided sentence gets the article's main partner.
BILATERAL = frozenset({"CONSULT", "VISIT", "SIGN_AGREEMENT", "AGREE", "INVITE", "PRAISE", "EXPRESS_INTENT", "COOPERATE"})
VISIT_HOST_REACH = 60  # characters after a visit verb where its destination is named
PARTY_WINDOW = 160  # characters around a trigger where its parties are named
NARROW_TYPES = frozenset({"ESTABLISH", "LAUNCH"})  # one actor's act: its subject, not the whole sentence
# A country written as the place of something ("from Baikonur, Kazakhstan", "in central Kazakhstan"):
# the launch site (a facility) stands for it; a demonym or owner ("a Kazakh satellite") is a party.
# A country written as the place of something: after "in", "at" ("internships in France", "in central
# Kazakhstan"), for a launch also "from", "near", "over" ("from Baikonur, Kazakhstan"); "firms from
# Turkey" are partners.
PLACE_OF = re.compile(r"\b(?i:in|at|from|near|over)\s+(?:the\s+)?(?:[a-z]+\s+)?(?:[A-Z][\w.-]*,?\s+(?:and\s+(?:the\s+)?)?){0,3}$")
PLACE_IN = re.compile(PLACE_OF.pattern.replace("in|at|from|near|over", "in|at"))
CLAUSE_END = re.compile(r";|:\s|\s[–—]\s|,\s*(?:while|whereas|but|and (?:the|it|its|they|he|she))\b|,\s*(?:once|after|before)\b", re.IGNORECASE)
COORDINATION = re.compile(r"\s*(?:,|and|,\s*and|together with|as well as)\s*", re.IGNORECASE)
# Acts that take two parties even when the sentence names one ("the Minister held talks", "X praised
# the part Kazakhstan plays": who praises and who is praised).
MULTI_PARTY = frozenset({"CONSULT", "SIGN_AGREEMENT", "AGREE", "PRAISE"})
# "agreements with France, Israel and China": one event per partner; "flew in 1994, 1998 and 2001":
# one flight per year.
SPLIT_TYPES = frozenset({"SIGN_AGREEMENT", "AGREE"})
YEAR_LIST = re.compile(r"\s+(?:in\s+)?((?:1[89]|20)\d\d)((?:,\s*(?:1[89]|20)\d\d)*,?\s+and\s+(?:1[89]|20)\d\d)\b")
# "has flown three times: as flight engineer in 1994, then as commander in 1998 and 2001": a count of
# repeats, then the years of its clause, one flight each.
TIMES = re.compile(r"\s+(?:\w+\s+)?(?:twice|times)\b", re.IGNORECASE)
YEAR = re.compile(r"\b(?:1[89]|20)\d\d\b")
REPEATED = frozenset({"LAUNCH", "VISIT"})  # acts a person repeats: "flew in 1994, 1998 and 2001"
OWN = re.compile(r"\b(?:its|their|a|an)\s+(?:own\s+)?$", re.IGNORECASE)  # its own, or a new one
RELATIVE_WORDS = (" that ", " which ", " who")  # a quick look before the regex
RELATIVE_AGAIN = re.compile(r"\b(?:and|but|or)\s+(?:that|which|who|whom)\b", re.IGNORECASE)
ACTOR_GAP = re.compile(r"(?:\s+(?:has|have|had|will|would|also|already|now|further|then|jointly|formally|officially))*\s+", re.IGNORECASE)
WITH_REACH = 60  # characters after a verb where "with <city>" names its partner
PASSIVE_BY = re.compile(r"\b(?:by|between)\b", re.IGNORECASE)
PLACE_PREPOSITION = re.compile(r"\b(?:in|at|to|from|near|on the margins of)\s+(?:the\s+)?$", re.IGNORECASE)


def main_countries(mentions: list[Mention]) -> list[str]:
    """The article's countries by how often their actors are mentioned (places count less)."""
    counts: Counter[str] = Counter()
    for m in mentions:
        if m.country:
            counts[m.country] += 1 if m.entity_type in PARTY_TYPES else 0.3
    return [c for c, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def find_parties(ev: Found, mentions: list[Mention], party_end: int, text: str, main: list[str], sides: bool, country_entity: dict[str, Mention]) -> None:
    """Source, targets and party countries of an event from its sentence's entities."""
    if ev.trigger.event_type == "LAUNCH":  # a launch reads its own clause, places and all
        cands = _launch_parties(ev, mentions, party_end, text)
    else:
        cands = _sentence_parties(ev, mentions, party_end, text)
    if ev.trigger.event_type in EVENT_GUESTS:  # "invited ... to the Space Days forum"
        cands += [m for m in mentions if m.entity_type == "EVENT" and ev.start - PARTY_WINDOW <= m.start and m.end <= ev.end + PARTY_WINDOW]
    if ev.trigger.event_type == "VISIT":  # a visit's destination may be a place: "visited Astana"
        cands += [m for m in mentions if m.entity_type == "LOCATION" and ev.end <= m.start <= ev.end + VISIT_HOST_REACH and PLACE_PREPOSITION.search(text[max(0, m.start - 12):m.start]) and text[max(0, m.start - 4):m.start].strip().lower() in ("to", "")]
        cands.sort(key=_start)
    before = [m for m in cands if m.end <= ev.start]
    after = [m for m in cands if m.start > ev.start]  # objects inside a phrase trigger ("assisting Kazakhstan with") too
    gap = text[ev.end:after[0].start] if after else ""
    passive = bool(after and PASSIVE_BY.search(gap) and len(gap) < 40)
    if passive:  # "was signed by X and Y", "between X and Y"
        ordered = after + before
    else:
        ordered = before + after
    seen, parties = set(), []
    for m in ordered:
        if m.entity_id not in seen:
            seen.add(m.entity_id)
            parties.append(m)
    countries = sorted({m.country for m in parties if m.country})
    # the actor is the person or body, not the demonym that qualifies it ("Kazakh Minister X met")
    head = after if passive else before
    source = next((m for m in head if m.entity_type in ACTOR_TYPES), parties[0] if parties else None)
    rest = [m for m in parties if m is not source]
    target = next((m for m in rest if m.entity_type in ACTOR_TYPES and m.country and source and m.country != source.country), None)
    target = target or next((m for m in rest if m.country and source and m.country != source.country), None)
    target = target or (rest[0] if rest else None)
    if ev.trigger.event_type == "VISIT" and after and after[0] is not source and after[0].start - ev.end <= 40:
        target = after[0]  # "visited the National Space Center": the host is what is visited
    ev.parties = [(m, "source" if m is source else "target" if m is target else "participant") for m in parties]
    if ev.trigger.event_type in BILATERAL and len(countries) < 2 and main:
        others = [c for c in main if c not in countries]
        visitor_unnamed = ev.trigger.event_type == "VISIT" and not before  # "during his trip to Russia"
        if countries and others and (sides or ev.trigger.event_type in MULTI_PARTY or visitor_unnamed):
            countries = sorted({*countries, others[0]})
            ev.completed = True
        elif not countries:
            countries = sorted(main[:2])
            ev.completed = True
    elif ev.trigger.event_type in NARROW_TYPES and not ev.background and sides and len(countries) < 2 and len(main) > 1:
        countries = sorted({*countries, *[c for c in main if c not in countries][:2 - len(countries)]})  # "set up ... of the two countries"
        ev.completed = True
    elif not countries and main:
        countries = main[:1]
        ev.completed = True
    ev.countries = tuple(countries)
    # a side supplied by the article (not the sentence) joins as its country entity, if named
    present = {m.country for m, _ in ev.parties}
    for c in countries:
        if c not in present and c in country_entity and country_entity[c].entity_id not in seen:
            role = "source" if not ev.parties else "target" if all(r != "target" for _, r in ev.parties) else "participant"
            ev.parties.append((country_entity[c], role))


def _start(m: Mention) -> int:
    return m.start


def _sentence_parties(ev: Found, mentions: list[Mention], party_end: int, text: str) -> list[Mention]:
    """The candidate parties of any act but a launch: the sentence's actors near the trigger, without
    countries that only locate a place, with cities that act, narrowed by the kind of act."""
    cands = [m for m in mentions if m.entity_type in PARTY_TYPES and m.start < party_end
             and ev.start - PARTY_WINDOW <= m.start and m.end <= ev.end + PARTY_WINDOW]
    places = [m for m in mentions if m.entity_type in PLACE_TYPES]
    if places and ev.trigger.event_type != "VISIT":  # a visit's host country is a party, wherever it is written
        place_ends = frozenset(m.end + 2 for m in places)
        cands = [m for m in cands if m.start not in place_ends or not written_as_place(m, text, None, place_ends)]
    acting = _places_that_act(ev, places, text) if places else places
    cands = _own_relative_clause(sorted(cands + acting, key=_start) if acting else cands, ev, text)
    if ev.trigger.event_type in NARROW_TYPES:
        subject = _subject(cands, ev, text)
        made = [m for m in cands if ev.end <= m.start <= ev.end + 60 and m.entity_type != "COUNTRY"][:1]
        # "Turkey set up its space agency", "decided to set up a space agency": what the subject sets up anew or for itself is its own
        cands = subject + [m for m in made if not (subject and OWN.search(text, max(ev.end, m.start - 8), m.start))]
    elif ev.trigger.event_type == "VISIT":  # the visitor, and the host named right after the verb
        cands = [m for m in cands if m.end <= ev.start or m.start <= ev.end + VISIT_HOST_REACH]
    elif len({m.country for m in cands if m.country}) > 3 and ev.trigger.event_type == "CONSULT":
        cands = _whole_lists(cands, mentions, text)  # who gathered: all of a list ("experts from A, B, ... and Z")
    elif len({m.country for m in cands if m.country}) > 3:  # a list of members: keep the nearest, and who acts
        actor = [m for m in cands if m.entity_type in ACTOR_TYPES and m.end <= ev.start][-1:]
        cands = [m for m in cands if ev.start - 80 <= m.start and m.end <= ev.end + 80]
        cands = actor + [m for m in cands if m not in actor]
    return cands


def _places_that_act(ev: Found, places: list[Mention], text: str) -> list[Mention]:
    """Cities that act stand for their governments ("Ankara had concluded an agreement with
    Nur-Sultan", "Beijing and Astana agreed"): the subject right before the verb, those coordinated
    with it, and the partner named by "with" just after it."""
    places = [m for m in places if m.entity_type == "LOCATION"]
    before = [m for m in places if ev.start - PARTY_WINDOW <= m.start and m.end <= ev.start]
    acting = _subject(before, ev, text) if before and ACTOR_GAP.fullmatch(text, before[-1].end, ev.start) else []
    acting += [m for m in places if ev.end <= m.start <= ev.end + WITH_REACH and text[m.start - 5:m.start].lower() == "with "]
    return [m for m in acting if m.country]


def _own_relative_clause(cands: list[Mention], ev: Found, text: str) -> list[Mention]:
    """An act told in a second relative clause with a subject of its own ("a spaceport that the Soviet
    Union built and that the Kazakh government now leases to Russia") takes no party from the first."""
    lo = max(0, ev.start - PARTY_WINDOW)
    if len([m for m in cands if m.end <= ev.start]) < 2 or all(text.find(w, lo, ev.start) < 0 for w in RELATIVE_WORDS):
        return cands  # no relative clause, or one party before the act at most: nothing to leave out
    cut = None
    for cut in RELATIVE_AGAIN.finditer(text, lo, ev.start):
        pass
    if cut is None:
        return cands
    if not any(cut.end() <= m.start and m.end <= ev.start for m in cands):
        return cands  # no subject of its own: the act shares the earlier clause's
    return [m for m in cands if m.start >= cut.end() or m.start >= ev.start]


def written_as_place(m: Mention, text: str, where: re.Pattern | None = PLACE_IN, place_ends: frozenset[int] = frozenset()) -> bool:
    """A country named only as where something is or happens, not as who takes part: right after a
    named place ("in Toulouse, France"; `place_ends` = each place's end + 2), or after a preposition of
    place (`where`: PLACE_IN for the partners of a list, "agreed to deliver to A, and internships in
    France"; PLACE_OF for a launch, "from Baikonur, Kazakhstan"; None for the sides of other acts,
    which keep a country written after "in": "engineers did internships in France" worked with France).
    One test for the three readings, so that they differ only in the prepositions that count."""
    if m.entity_type != "COUNTRY":
        return False
    if m.start in place_ends and text[m.start - 2:m.start] == ", ":
        return True
    return where is not None and bool(where.search(text, max(0, m.start - 40), m.start))


def _whole_lists(chosen: list[Mention], mentions: list[Mention], text: str) -> list[Mention]:
    """The chosen countries with every country coordinated with them ("France, Germany, ... and Korea")."""
    countries = [m for m in mentions if m.entity_type == "COUNTRY"]
    keep = {id(m) for m in chosen}
    grown = True
    while grown:
        grown = False
        for a, b in zip(countries, countries[1:]):
            if (id(a) in keep) != (id(b) in keep) and COORDINATION.fullmatch(text[a.end:b.start]):
                keep |= {id(a), id(b)}
                grown = True
    return chosen + [m for m in countries if id(m) in keep and all(m is not c for c in chosen)]


def _subject(cands: list[Mention], ev: Found, text: str) -> list[Mention]:
    """The party right before the verb, with those coordinated with it ("Kazakhstan and Kenya established")."""
    before = [m for m in cands if m.end <= ev.start]
    subject = before[-1:]
    for m in reversed(before[:-1]):
        if subject and COORDINATION.fullmatch(text[m.end:subject[0].start]):
            subject.insert(0, m)
        else:
            break
    return subject


def _launch_parties(ev: Found, mentions: list[Mention], party_end: int, text: str) -> list[Mention]:
    """Who launched (the subject of a verb; the craft for a noun; nobody for a participle describing a
    craft), and the craft, crew and launch site named after the verb in its clause, with the countries
    owning them; a country written as a place ("in Kazakhstan") adds nothing its site does not say."""
    counted = TIMES.match(text, ev.end)  # "has flown three times: aboard Mir in 1994, ...": the colon lists the flights
    stop = CLAUSE_END.search(text, counted.end() + 1 if counted else ev.end, party_end)
    end = stop.start() if stop else party_end
    near = [m for m in mentions if m.entity_type in PARTY_TYPES and m.start < end and ev.start - PARTY_WINDOW <= m.start]
    craft_before = [m for m in near if m.entity_type == "SPACECRAFT" and m.end <= ev.start]
    if ev.background:
        subject = []
    elif ev.trigger.kind == "noun" and craft_before:
        subject = craft_before[-1:]  # "its launch": the craft's
    else:
        subject = _subject(near, ev, text)
    after = [m for m in near if m.start > ev.start and not written_as_place(m, text, PLACE_OF)]
    fliers = [m for m in subject if m.entity_type in ("SPACECRAFT", "PERSON")] or [m for m in near if m.entity_type == "PERSON" and m.end <= ev.start][-1:]
    fliers = fliers or subject[-1:]  # else who launched: "Rwanda put its first satellite into orbit"
    ev.flier = (fliers[0].entity_type, fliers[0].entity_id) if fliers else None
    return subject + after


def split_partners(ev: Found, text: str, next_start: int) -> list[Found]:
    """An agreement with a list of partners is one agreement per partner (the annotation convention).
    The partners are those named after the trigger and before the next one, when it names any ("agreed
    to deliver to A, B and C, and concluded deals with D and E")."""
    if ev.trigger.event_type not in SPLIT_TYPES or len(ev.countries) < 3:
        return [ev]
    source = next((m for m, r in ev.parties if r == "source" and m.country), None)
    if source is None:
        return [ev]
    partners = [m for m, _ in ev.parties if m.country and m.country != source.country and not written_as_place(m, text)]
    own = [m for m in partners if ev.end <= m.start < next_start]
    out = []
    for c in ev.countries:
        if c == source.country or not any(m.country == c for m in own or partners):
            continue
        part = _another(ev, c)
        part.parties = [(source, "source")] + [(m, "target") for m, _ in ev.parties if m.country == c][:1]
        part.parties += [(m, "participant") for m, _ in ev.parties if m.country == c][1:]
        part.countries = tuple(sorted({source.country, c}))
        out.append(part)
    return out or [ev]


def split_years(ev: Found, text: str, next_start: int) -> list[Found]:
    """A flight or visit told with a list of years ("flew in 1994, 1998 and 2001"), or counted and then
    dated ("has flown three times: ... in 1994, ... in 1998 and 2001"), is one per year."""
    if ev.trigger.event_type not in REPEATED:
        return [ev]
    listed = YEAR_LIST.match(text, ev.end)
    if listed:
        years = re.findall(r"\d{4}", listed.group(2))
    elif TIMES.match(text, ev.end):
        years = list(dict.fromkeys(YEAR.findall(text, ev.end, next_start)))
        if len(years) < 2:
            return [ev]
        ev.date = EventDate(_dt.date(int(years[0]), 1, 1), "year", "explicit")
        years = years[1:]
    else:
        return [ev]
    out = [ev]
    for year in years:
        again = _another(ev, year)
        again.parties, again.countries, again.completed = list(ev.parties), ev.countries, ev.completed
        again.date = EventDate(_dt.date(int(year), 1, 1), "year", "explicit")
        out.append(again)
    return out


def _another(ev: Found, partner: str) -> Found:
    """One of the events a trigger stands for: its trigger, sentence, status, date, place and sectors,
    told apart by `partner`; its parties are the caller's to set."""
    again = Found(ev.trigger, ev.start, ev.end, ev.sentence_index, ev.sentence_span, ev.status, ev.negated, ev.status_basis)
    again.date, again.location, again.sectors, again.partner = ev.date, ev.location, ev.sectors, partner
    return again

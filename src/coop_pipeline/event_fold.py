"""Folding: the same act told again in one article (in the headline and the body, by a verb and then a
noun, as under way and as done) becomes one event; distinct acts of one kind stay apart."""

from __future__ import annotations

import re

from coop_pipeline.event_found import Found
from coop_pipeline.event_parties import REPEATED

STAYS = frozenset({"VISIT", "CONSULT"})  # acts that last: told as under way and as done
# Acts that fold freely but are someone's: a meeting, a visit, an intention voiced, an agreement
# reached, praise given. Told of different named people, none the same, they are different acts.
PERSONAL = STAYS | {"EXPRESS_INTENT", "AGREE", "PRAISE"}
# Types of which an article often reports several distinct ones, and words that refer back to one.
OFTEN_SEVERAL = frozenset({"SIGN_AGREEMENT", "COOPERATE", "ESTABLISH", "INVITE"})
FRESH_DAYS = 31  # an act dated further back than this before the news is background, not the news
HEADING_LINES = 4  # at most this many lines before the body (section, title, subtitle, byline)
SENTENCE_END = (".", "!", "?", "”", '"')
LIST_ITEM = re.compile(r"(?:^|\s)[-–•]\s+(?=[A-Z])")
RATIFY = re.compile(r"ratif|approv|amend|(?:gave|given|give|gives)\b", re.IGNORECASE)  # approving, ratifying or amending is not signing
ANAPHORIC = re.compile(r"\b(?:the|this|that|these|those|such|its|their)\s+(?:[\w-]+\s+){0,2}(?:(?:document|agreement|memorandum|mou|deal|contract|treaty|protocol|road ?map|declaration|satellite|launch|spacecraft|rocket)s?\b(?:\s+\w+){0,3}\s*|)$", re.IGNORECASE)
INDEFINITE_OBJECT = re.compile(r"\s+(?:[\w-]+\s+)?(?:a|an)\s", re.IGNORECASE)
NEW_ONE = re.compile(r"\b(?:another|further|additional|separate|second|third|number (?:two|three|four)|also)\b", re.IGNORECASE)
# Types told several times in one story about one act (a launch: the rocket, the craft, its crew);
# meetings and visits are STAYS.
ONE_PER_STORY = frozenset({"LAUNCH"})


def heading_sentences(text: str, spans: list[tuple[int, int]]) -> int:
    """How many leading "sentences" are headline lines (section, title, byline): they end with no
    full stop, and the body then tells their news again."""
    n = 0
    while n < min(len(spans), HEADING_LINES) and not text[spans[n][0]:spans[n][1]].rstrip().endswith(SENTENCE_END):
        n += 1
    return n if n < len(spans) else 0


def item_of(ev: Found, text: str) -> tuple[int, int]:
    """(sentence, list item) of a report: the items of a bulleted list ("documents: - A Memorandum of
    ... - A Memorandum of ...") are distinct things even when the sentence splitter joins them."""
    return ev.sentence_index, len(LIST_ITEM.findall(text, ev.sentence_span[0], ev.start))


def fold(found: list[Found], text: str, spans: list[tuple[int, int]]) -> list[Found]:
    """One event per distinct act: repeated reports (same type, parties, status, compatible date) fold
    into the first. Meetings and visits are usually told several times; documents, launches and
    projects are often several distinct ones, so those fold only when the text refers back ("the
    memorandum", "this agreement") or within one sentence."""
    heading = heading_sentences(text, spans)
    for ev in found:
        ev.told = {item_of(ev, text)}
        ev.headline = ev.sentence_index < heading
    kept: list[Found] = []
    for ev in found:
        twin = None
        etype = ev.trigger.event_type
        item = next(iter(ev.told))  # (sentence, list item) of this report
        new_object = bool(INDEFINITE_OBJECT.match(text, ev.end))  # "signed a memorandum", "a new one"
        refers_back = ANAPHORIC.search(text[max(0, ev.start - 45):ev.start]) and not new_object
        distinct_kind = etype in OFTEN_SEVERAL and not refers_back
        # "signed a memorandum" may bring in a new document; "signed the memorandum", "was signed" tell one again
        retold_signing = etype == "SIGN_AGREEMENT" and ev.trigger.kind != "noun" and not NEW_ONE.search(text[ev.sentence_span[0]:ev.start]) and not new_object
        for k in kept:
            # a signing told again by its verb ("was signed in Astana") with the same two sides is the same signing
            same_signing = retold_signing and set(k.countries) == set(ev.countries) and len(ev.countries) == 2
            # a headline is told again by the body's first report of the same act with the same sides
            retold_headline = k.headline and set(k.countries) == set(ev.countries)
            if distinct_kind and item not in k.told and not same_signing and not retold_headline:
                continue
            if k.trigger.event_type != ev.trigger.event_type or k.negated != ev.negated or not _same_status(k, ev):
                continue
            if etype == "SIGN_AGREEMENT" and bool(RATIFY.match(text, k.start)) != bool(RATIFY.match(text, ev.start)):
                continue  # ratifying an agreement is another act than signing it
            if k.partner != ev.partner:  # one agreement per partner of a list, one flight per year
                continue
            kc, ec = set(k.countries), set(ev.countries)
            if not (kc <= ec or ec <= kc) and item not in k.told and ev.trigger.event_type not in ONE_PER_STORY:
                continue
            kd = k.date.date if k.date and k.date.basis != "publication" else None
            ed = ev.date.date if ev.date and ev.date.basis != "publication" else None
            if (kd and ed and kd != ed) or (item not in k.told and _fresh_and_past(k, ev)):
                continue
            if etype in PERSONAL and not refers_back and _other_people(k, ev):
                continue  # the ambassador meeting the governor is not the delegation's meeting
            if etype == "LAUNCH" and _other_fliers(k, ev):
                continue  # Sputnik lifting off is not a Falcon 9 lifting off
            twin = k
            break
        if twin is None:
            kept.append(ev)
            continue
        # keep the first report, enriched with what the repeat adds; quote the surest trigger
        if ev.trigger.confidence > twin.trigger.confidence:
            twin.trigger, twin.start, twin.end = ev.trigger, ev.start, ev.end
            twin.sentence_index, twin.sentence_span = ev.sentence_index, ev.sentence_span
        twin.told.add(item)
        twin.headline = twin.headline and ev.headline  # the body has told it again
        seen = {m.entity_id for m, _ in twin.parties}
        union = ev.trigger.event_type in ONE_PER_STORY or (len(ev.countries) > len(twin.countries) and not ev.completed)
        allowed = set(ev.countries) | set(twin.countries) if union else set(twin.countries)
        twin.parties += [(m, "participant") for m, _ in ev.parties if m.entity_id not in seen and (m.country is None or m.country in allowed)]
        if (twin.date is None or twin.date.basis == "publication") and ev.date is not None and ev.date.basis != "publication":
            twin.date = ev.date
        twin.location = twin.location or ev.location
        twin.flier = twin.flier or ev.flier
        if ev.trigger.event_type in ONE_PER_STORY and not ev.completed:
            twin.countries = tuple(sorted(set(twin.countries) | set(ev.countries)))  # the rocket's country, the satellite's
        elif (twin.completed and not ev.completed) or (len(ev.countries) > len(twin.countries) and not ev.completed):
            twin.countries, twin.completed = ev.countries, ev.completed
    return kept


def _same_status(a: Found, b: Found) -> bool:
    """A visit or meeting under way and what was done during it ("is on a visit ... toured") are one;
    so are a flight or visit told as planned and as possible ("will fly", "may be cleared to fly")."""
    if a.status == b.status:
        return True
    statuses = {a.status, b.status}
    return (a.trigger.event_type in STAYS and statuses == {"ongoing", "occurred"}) or (a.trigger.event_type in REPEATED and statuses == {"planned", "proposed"})


def _fresh_and_past(a: Found, b: Found) -> bool:
    """Fresh news (dated by its publication) and an act another sentence dates long before it ("the
    December 23, 1995 agreement" in a story of 2017) are two acts."""
    if not (a.date and b.date and a.date.date and b.date.date) or (a.date.basis == "publication") == (b.date.basis == "publication"):
        return False
    fresh, past = (a.date, b.date) if a.date.basis == "publication" else (b.date, a.date)
    return (fresh.date - past.date).days > FRESH_DAYS


def _other_people(a: Found, b: Found) -> bool:
    """Two reports that name people, none of them the same, tell of two meetings."""
    people_a = {m.entity_id for m, _ in a.parties if m.entity_type == "PERSON"}
    people_b = {m.entity_id for m, _ in b.parties if m.entity_type == "PERSON"}
    return bool(people_a and people_b) and not people_a & people_b


def _other_fliers(a: Found, b: Found) -> bool:
    """Two launch reports are two launches when they tell of different craft, or of different people,
    neither named in the other report ("Sputnik lifted off", "a Falcon 9 lifting off"); a rocket and the
    satellite it carried, or a craft and a person, may share one launch."""
    if not (a.flier and b.flier) or a.flier[0] != b.flier[0] or a.flier == b.flier:
        return False
    return a.flier[1] not in {m.entity_id for m, _ in b.parties} and b.flier[1] not in {m.entity_id for m, _ in a.parties}

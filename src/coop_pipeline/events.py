"""Events stage: who did what with whom, when, where, and whether it happened.

`extract(articles, entities, resources)` finds event triggers from the lexicon, takes the parties
from the entities the entities stage found in the trigger's sentence, reads status, date, place and
sectors from the words around the trigger, and folds repeated reports of one event in an article into
one row. `assign_clusters(events)` (in event_clusters) links the same real-world event across rows.
Plain Python per article, one DataFrame per batch.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field

import pandas as pd

from coop_pipeline.dates import DateFinder
from coop_pipeline.event_clusters import assign_clusters  # noqa: F401  (public API of the stage)
from coop_pipeline.event_lexicon import EventResources, group_index, Trigger
from coop_pipeline.event_status import DateIndex, EventDate, find_cues, is_finite_past, sector_hits, status_of
from coop_pipeline.schemas import columns, empty_frame
from coop_pipeline.text import sentence_spans

PARTY_TYPES = frozenset({"PERSON", "ORGANIZATION", "COUNTRY", "FACILITY", "SPACECRAFT"})
EVENT_GUESTS = frozenset({"CONSULT", "INVITE", "VISIT"})
ACTOR_TYPES = frozenset({"PERSON", "ORGANIZATION"})
PLACE_TYPES = frozenset({"LOCATION", "FACILITY"})
# Types whose act always has two sides: a one-sided sentence gets the article's main partner.
BILATERAL = frozenset({"CONSULT", "VISIT", "SIGN_AGREEMENT", "AGREE", "INVITE", "PRAISE", "EXPRESS_INTENT", "COOPERATE"})
# "interest in cooperating": the content of an intention is not a second event.
# Joint work that is only intended, discussed or invited is the content of that act, not a second event.
NESTED_SUPPRESSED = frozenset({"COOPERATE"})
# What parties agreed or wished to set up is the content of the agreement, not an establishment yet.
GOVERNED_SUPPRESSED = frozenset({"ESTABLISH"})
WEAK = 0.8  # a trigger less sure than this needs both sides named in its own sentence
VISIT_HOST_REACH = 60  # characters after a visit verb where its destination is named
PARTY_WINDOW = 160  # characters around a trigger where its parties are named
NARROW_TYPES = frozenset({"ESTABLISH", "LAUNCH"})  # one actor's act: its subject, not the whole sentence
# A country written as the place of something ("from Baikonur, Kazakhstan", "in central Kazakhstan"):
# the launch site (a facility) stands for it; a demonym or owner ("a Kazakh satellite") is a party.
PLACE_OF = re.compile(r"\b(?i:in|at|from|near|over)\s+(?:the\s+)?(?:[a-z]+\s+)?(?:[A-Z][\w.-]*,?\s+(?:and\s+(?:the\s+)?)?){0,3}$")
# A participle describing a noun ("successfully launched Kazakh satellites", "the newly established
PLACE_IN = re.compile(PLACE_OF.pattern.replace("in|at|from|near|over", "in|at"))  # "firms from Turkey" are partners
CLAUSE_END = re.compile(r";|:\s|\s[–—]\s|,\s*(?:while|whereas|but|and (?:the|it|its|they|he|she))\b|,\s*(?:once|after|before)\b", re.IGNORECASE)
# agency") recalls a background fact: it has no subject of its own and no date of the news. It follows a
# determiner or preposition, or a comma and an adverb, and comes before a bare noun (a verb takes "the").
ATTRIBUTIVE = re.compile(r"(?:\b(?:the|a|an|its|their|his|her|our|of|with)\s+(?:\w+ly\s+)?|[,;(]\s*\w+ly\s+)$", re.IGNORECASE)
BARE_NOUN = re.compile(r"\s+(?!(?:the|a|an|its|their|his|her|our|this|that|these|those|it|them|him|by|in|on|at|from|to|into|as|for)\b)[\w-]", re.IGNORECASE)
SIDES = re.compile(r"\b(?:the (?:two |both )?(?:parties|sides|countries|nations|states|governments|agencies)|both (?:sides|parties|countries|nations)|bilateral|jointly|mutual|together with|in (?:close )?(?:partnership|cooperation|collaboration) with)\b", re.IGNORECASE)
COORDINATION = re.compile(r"\s*(?:,|and|,\s*and|together with|as well as)\s*", re.IGNORECASE)
# Acts that take two parties even when the sentence names one ("the Minister held talks").
MULTI_PARTY = frozenset({"CONSULT", "SIGN_AGREEMENT", "AGREE"})
# "agreements with France, Israel and China": one event per partner; "flew in 1994, 1998 and 2001":
# one flight per year.
SPLIT_TYPES = frozenset({"SIGN_AGREEMENT", "AGREE"})
YEAR_LIST = re.compile(r"\s+(?:in\s+)?((?:1[89]|20)\d\d)((?:,\s*(?:1[89]|20)\d\d)*,?\s+and\s+(?:1[89]|20)\d\d)\b")
STAYS = frozenset({"VISIT", "CONSULT"})  # acts that last: told as under way and as done
REPEATED = frozenset({"LAUNCH", "VISIT"})  # acts a person repeats: "flew in 1994, 1998 and 2001"
# Types of which an article often reports several distinct ones, and words that refer back to one.
OFTEN_SEVERAL = frozenset({"SIGN_AGREEMENT", "COOPERATE", "LAUNCH", "ESTABLISH", "INVITE"})
HEADING_LINES = 4  # at most this many lines before the body (section, title, subtitle, byline)
SENTENCE_END = (".", "!", "?", "”", '"')
LIST_ITEM = re.compile(r"(?:^|\s)[-–•]\s+(?=[A-Z])")
RATIFY = re.compile(r"ratif|approv|(?:gave|given|give|gives)\b", re.IGNORECASE)  # approving or ratifying is not signing
ANAPHORIC = re.compile(r"\b(?:the|this|that|these|those|such|its|their)\s+(?:[\w-]+\s+){0,2}(?:(?:document|agreement|memorandum|mou|deal|contract|treaty|protocol|road ?map|declaration|satellite|launch|spacecraft|rocket)s?\b(?:\s+\w+){0,3}\s*|)$", re.IGNORECASE)
INDEFINITE_OBJECT = re.compile(r"\s+(?:[\w-]+\s+)?(?:a|an)\s", re.IGNORECASE)
NEW_ONE = re.compile(r"\b(?:another|further|additional|separate|second|third|number (?:two|three|four)|also)\b", re.IGNORECASE)
# Types told several times in one story about one act (a meeting, a visit, a launch).
ONE_PER_STORY = frozenset({"LAUNCH"})
# Deciding to do something is that thing, planned ("decided to start joint projects"); a decision
# on a subject with no act of its own after it ("the partnership decided on by the Presidents") is AGREE.
DECIDE_TO = re.compile(r"decid(?:ed|es|e)\b(?! on\b)", re.IGNORECASE)
DECISION_REACH = 40  # characters from "decided" to the act decided on
QUOTES = "\"“‘'«"
NAME_QUOTE = re.compile(r"\b(?:called|named|titled|entitled|dubbed)\s+[\"“‘'«]$", re.IGNORECASE)
SUBORDINATE = re.compile(r"(?:because|although|though|whereas|since|as|if|when|while)\b[^,;]{10,200},\s", re.IGNORECASE)
CAPABILITY = re.compile(r"\b(?:designed|used|able|capable|ways?|means)\s+(?:of|to)\s+$", re.IGNORECASE)
JOINT_REACH = 12  # characters between "set up" and "a joint venture"
OWN = re.compile(r"\b(?:its|their|a|an)\s+(?:own\s+)?$", re.IGNORECASE)  # its own, or a new one
DOCUMENT_REACH = 120  # characters after a document's trigger where its contents are told
CLAUSE_BREAK = re.compile(r"[,;:]|\s[–—-]\s")
NOMINAL_CONTENT_TYPES = frozenset({"ESTABLISH"})
NOMINAL = re.compile(r"\w+ing\b|creation|establishment|formation|opening|launch\b", re.IGNORECASE)
CONTENT_OF = re.compile(r"\b(?:on|of|for|towards?|about|regarding)\s+(?:the\s+)?$", re.IGNORECASE)
PASSIVE_BY = re.compile(r"\b(?:by|between)\b", re.IGNORECASE)
PLACE_PREPOSITION = re.compile(r"\b(?:in|at|to|from|near|on the margins of)\s+(?:the\s+)?$", re.IGNORECASE)
# Attribution tails and heads ("..., Kazinform correspondent reports.") name no party of the event.
ATTRIBUTION = re.compile(r",[^,]{0,80}\b(?:reports?|says|said|informs|writes|according to)[^,]{0,60}[.]?$", re.IGNORECASE)


@dataclass(slots=True)
class Mention:
    start: int
    end: int
    entity_id: str
    entity_type: str
    country: str | None


@dataclass
class Found:
    """An event as found in one sentence, before article-level folding."""

    trigger: Trigger
    start: int
    end: int
    sentence_index: int
    sentence_span: tuple[int, int]
    status: str
    negated: bool
    status_basis: str
    parties: list[tuple[Mention, str]] = field(default_factory=list)  # (mention, role)
    countries: tuple[str, ...] = ()
    completed: bool = False
    date: EventDate | None = None
    location: str | None = None
    sectors: list[str] = field(default_factory=list)
    partner: str | None = None  # what tells apart the events of one trigger: a partner or a year of a list
    background: bool = False  # a participle describing a noun: a fact recalled, not the news
    told: set[tuple[int, int]] = field(default_factory=set)  # (sentence, list item) that report it
    headline: bool = False  # reported so far only in the headline, which the body then tells again
    flier: tuple[str, str] | None = None  # (type, id) of the craft or person a launch is told of ("Sputnik lifted off")


_DATE_TYPES = (_dt.date, pd.Timestamp)


def _resources(resources: object) -> EventResources:
    if isinstance(resources, EventResources):
        return resources
    return getattr(resources, "events", None) or EventResources.load()


def extract(articles: pd.DataFrame, entities: dict[str, pd.DataFrame], resources: object) -> dict[str, pd.DataFrame]:
    """Events and their participants in a batch of articles (`resources`: extract.Resources or EventResources)."""
    res = _resources(resources)
    finder = res.date_finder
    by_article = _mentions_by_article(entities)
    rows, participants = [], []
    for art in articles[["article_id", "text", "published_date", "dateline"]].itertuples(index=False):
        published = art.published_date if isinstance(art.published_date, _DATE_TYPES) else None
        if isinstance(published, pd.Timestamp):
            published = published.date()
        found = article_events(res, finder, art.text, published, by_article.get(art.article_id, ([], {})), art.dateline if isinstance(art.dateline, str) else None)
        for ev in found:
            row, parts = _row(art.article_id, art.text, ev, published)
            rows.append(row)
            participants.extend(parts)
    if not rows:
        return {"events": empty_frame("events"), "event_participants": empty_frame("event_participants")}
    events = pd.DataFrame(rows, columns=columns("events"))
    parts = pd.DataFrame(participants, columns=columns("event_participants")) if participants else empty_frame("event_participants")
    return {"events": events, "event_participants": parts}



def _mentions_by_article(entities: dict[str, pd.DataFrame]) -> dict[str, tuple[list[Mention], dict[str, str]]]:
    """Per article: its mentions in text order, and the names of its entities (for the dateline)."""
    mentions = entities.get("mentions")
    obs = entities.get("entity_observations")
    if mentions is None or mentions.empty or obs is None or obs.empty:
        return {}
    info = {}
    columns = ("article_id", "entity_id", "entity_type", "country_iso3", "name", "aliases")
    for a, e, t, c, name, aliases in zip(*(obs[k].tolist() for k in columns)):  # lists iterate faster than Arrow columns
        info[(a, e)] = (t, c if isinstance(c, str) else None, name, aliases)
    out: dict[str, tuple[list[Mention], dict[str, str]]] = {}
    for a, e, s, en in zip(*(mentions[k].tolist() for k in ("article_id", "entity_id", "start", "end"))):
        t, c, _, _ = info.get((a, e), ("", None, "", ()))
        out.setdefault(a, ([], {}))[0].append(Mention(int(s), int(en), e, t, c))
    for (a, e), (t, _, name, aliases) in info.items():
        if a in out and t in PLACE_TYPES:
            for n in (name, *list(aliases)):
                out[a][1].setdefault(n.lower(), e)
    for ms, _ in out.values():
        ms.sort(key=lambda m: (m.start, m.end))
    return out


def article_events(res: EventResources, finder: DateFinder, text: str, published, ents: tuple[list[Mention], dict[str, str]], dateline: str | None) -> list[Found]:
    """The events of one article, repeated reports folded together."""
    mentions, place_names = ents
    triggers = [(m.start(), m.end(), res.triggers[group_index(m)]) for m in res.trigger_pattern.finditer(text)]
    if not triggers:
        return []
    spans = sentence_spans(text)
    sent_starts = [s for s, _ in spans]
    mention_starts = [m.start for m in mentions]
    dates = DateIndex(finder, text, published)
    main = _main_countries(mentions)
    country_entity: dict[str, Mention] = {}
    for m in mentions:
        if m.entity_type == "COUNTRY" and m.country:
            country_entity.setdefault(m.country, m)
    hits = []
    for si in sorted({bisect_right(sent_starts, t[0]) - 1 for t in triggers}):
        if si >= 0:
            hits += sector_hits(res, text, *spans[si])
    hit_starts = [h for h, _ in hits]
    article_sector = Counter(name for _, name in hits)  # the story's sector, for sentences naming none
    found: list[Found] = []
    by_sentence: dict[int, list[tuple[int, int, Trigger]]] = {}
    for t in triggers:
        by_sentence.setdefault(bisect_right(sent_starts, t[0]) - 1, []).append(t)
    for si, trigs in sorted(by_sentence.items()):
        if si < 0:
            continue
        s_start, s_end = spans[si]
        cues = find_cues(res, text, s_start, s_end, [(a, b, t.kind != "verb") for a, b, t in trigs])
        sentence = text[s_start:s_end]
        cut = ATTRIBUTION.search(sentence)
        party_end = s_start + cut.start() if cut else s_end
        lo, hi = bisect_right(mention_starts, s_start - 1), bisect_right(mention_starts, s_end)
        sent_mentions = [m for m in mentions[lo:hi] if m.end <= s_end]
        sides = bool(SIDES.search(sentence))
        lead = SUBORDINATE.match(sentence)  # "Because ..., there is room for joint ventures": its own clause
        main_start = s_start + lead.end() if lead else s_start
        carry, governed, decided, prev_end, document_end = None, False, False, s_start, None
        sectors = sorted({name for _, name in hits[bisect_right(hit_starts, s_start - 1):bisect_right(hit_starts, s_end - 1)]})
        sectors = sectors or [name for name, _ in article_sector.most_common(1)]
        for i, (t_start, t_end, trig) in enumerate(trigs):
            next_start = trigs[i + 1][0] if i + 1 < len(trigs) else s_end
            past = is_finite_past(text[t_start:t_end]) and trig.kind != "noun"
            clause = max(text.rfind(";", s_start, t_start), text.rfind(" – ", s_start, t_start), text.rfind(" — ", s_start, t_start), text.rfind(": ", s_start, t_start))
            # a noun with no verb of its own ("technology transfer") takes the tense of the sentence
            tenseless = trig.kind == "noun" or (trig.kind == "phrase" and not past and trig.governs is None)
            status, negated, basis = status_of(t_start, t_end, trig.governs is None, prev_end, next_start, cues, carry, past, clause, tenseless and carry is None)
            # joint work named in the same clause right after a document ("a memorandum on working
            # together", "signed ... to carry out a project") is what the document provides for
            content = trig.event_type in NESTED_SUPPRESSED and document_end is not None and t_start - document_end < DOCUMENT_REACH and not CLAUSE_BREAK.search(text, document_end, t_start)
            document_end = t_end if trig.event_type == "SIGN_AGREEMENT" else document_end
            if content or (basis == "carry" and not decided and (trig.event_type in NESTED_SUPPRESSED or (governed and trig.event_type in GOVERNED_SUPPRESSED))):
                prev_end = t_end
                continue
            if trig.event_type in NOMINAL_CONTENT_TYPES and NOMINAL.match(text, t_start, t_end) and CONTENT_OF.search(text, max(s_start, t_start - 25), t_start):
                prev_end = t_end  # "an agreement on creating the complex": what a document is about, not an act
                continue
            before = text[t_start - 3:t_start]  # most triggers follow neither a quote nor "to"/"of": skip the regexes
            if before[-1:] in QUOTES and NAME_QUOTE.search(text, max(s_start, t_start - 20), t_start):
                continue  # the project called "Creation of the Baiterek complex": a name, not an act
            if before in ("to ", "of ") and CAPABILITY.search(text, max(s_start, t_start - 25), t_start):
                continue  # "a complex designed to put satellites into orbit": what a thing is for, not an act
            if _joint_object(trigs, i) and trig.event_type == "COOPERATE":
                continue  # "a joint venture be set up": what is established, told by ESTABLISH (and its cues)
            if DECIDE_TO.match(text, t_start) and next_start - t_end <= DECISION_REACH:
                carry, governed, decided, prev_end = "planned", False, True, t_end  # "decided to start joint projects": planned projects
                continue
            ev = Found(trig, t_start, t_end, si, (s_start, s_end), status, negated, basis)
            ev.background = trig.kind == "verb" and text[t_end - 2:t_end] == "ed" and bool(ATTRIBUTIVE.search(text, max(s_start, t_start - 30), t_start) and BARE_NOUN.match(text, t_end))
            clause_mentions = [m for m in sent_mentions if m.start >= main_start] if lead and t_start >= main_start else sent_mentions
            _parties(ev, clause_mentions, party_end, text, main, sides or (trig.event_type == "ESTABLISH" and _joint_object(trigs, i)), country_entity)
            # a noun whose sentence names nobody ("To participate in the discussion") says too little
            bare_noun = trig.kind == "noun" and not sides and not any(s_start <= m.start < s_end for m, _ in ev.parties)
            named_sides = len(ev.countries) >= 2 and (not ev.completed or sides)  # "the two countries" names both
            if bare_noun or (trig.confidence < WEAK and trig.event_type in BILATERAL and not named_sides and not _named_event_before(ev, sent_mentions)):
                prev_end = t_end
                continue
            ev.date = dates.near(s_start, s_end, t_start, t_end, status, prev_end, next_start)
            if ev.date and ev.date.date and published and ev.status == "occurred" and ev.date.date > published + _dt.timedelta(days=1):
                ev.status = "planned"  # a date ahead of publication: scheduled, not done
            if ev.date is None and ev.status == "occurred" and published is not None and not ev.background:
                ev.date = EventDate(published, "day", "publication")
            ev.location = _location(ev, sent_mentions, text, place_names, dateline)
            ev.sectors = sectors
            found.extend(_split_partners(ev, text, next_start) if trig.event_type in SPLIT_TYPES else _split_years(ev, text))
            if trig.governs:
                carry, governed, decided = trig.governs, trig.event_type in ("AGREE", "EXPRESS_INTENT"), False
            elif status in ("planned", "proposed") and not past:
                carry = status
            prev_end = t_end
    heading = _heading_sentences(text, spans)
    for ev in found:
        ev.told = {_item(ev, text)}
        ev.headline = ev.sentence_index < heading
    return _fold(found, text)




def _joint_object(trigs: list[tuple[int, int, Trigger]], i: int) -> bool:
    """An establishment and a joint project next to each other ("set up a joint venture", "a joint
    venture be set up") are one act: establishing something that both sides share."""
    here = trigs[i][2].event_type
    for j in (i - 1, i + 1):
        if 0 <= j < len(trigs) and {here, trigs[j][2].event_type} == {"ESTABLISH", "COOPERATE"}:
            cooperate = trigs[i] if here == "COOPERATE" else trigs[j]
            if cooperate[2].kind == "noun" and abs(trigs[j][0] - trigs[i][1] if j > i else trigs[i][0] - trigs[j][1]) <= JOINT_REACH:
                return True
    return False


def _heading_sentences(text: str, spans: list[tuple[int, int]]) -> int:
    """How many leading "sentences" are headline lines (section, title, byline): they end with no
    full stop, and the body then tells their news again."""
    n = 0
    while n < min(len(spans), HEADING_LINES) and not text[spans[n][0]:spans[n][1]].rstrip().endswith(SENTENCE_END):
        n += 1
    return n if n < len(spans) else 0


def _named_event_before(ev: Found, mentions: list[Mention]) -> bool:
    """"KADEX-2018, to be held in Astana": the subject is a named forum or exhibition, an event in itself."""
    return any(m.entity_type == "EVENT" and 0 <= ev.start - m.end <= 40 for m in mentions)


def _main_countries(mentions: list[Mention]) -> list[str]:
    """The article's countries by how often their actors are mentioned (places count less)."""
    counts: Counter[str] = Counter()
    for m in mentions:
        if m.country:
            counts[m.country] += 1 if m.entity_type in PARTY_TYPES else 0.3
    return [c for c, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def _parties(ev: Found, mentions: list[Mention], party_end: int, text: str, main: list[str], sides: bool, country_entity: dict[str, Mention]) -> None:
    """Source, targets and party countries of an event from its sentence's entities."""
    cands = [m for m in mentions if m.entity_type in PARTY_TYPES and m.start < party_end
             and ev.start - PARTY_WINDOW <= m.start and m.end <= ev.end + PARTY_WINDOW]
    if ev.trigger.event_type == "LAUNCH":
        cands = _launch_parties(ev, mentions, party_end, text)
    elif ev.trigger.event_type in NARROW_TYPES:
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
    if ev.trigger.event_type in EVENT_GUESTS:  # "invited ... to the Space Days forum"
        cands += [m for m in mentions if m.entity_type == "EVENT" and ev.start - PARTY_WINDOW <= m.start and m.end <= ev.end + PARTY_WINDOW]
    if ev.trigger.event_type == "VISIT":  # a visit's destination may be a place: "visited Astana"
        cands += [m for m in mentions if m.entity_type == "LOCATION" and ev.end <= m.start <= ev.end + VISIT_HOST_REACH and PLACE_PREPOSITION.search(text[max(0, m.start - 12):m.start]) and text[max(0, m.start - 4):m.start].strip().lower() in ("to", "")]
        cands.sort(key=lambda m: m.start)
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
    if not parties:
        countries = []
    else:
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
    """Who launched (the subject of a verb; the craft for a noun; nobody for a participle describing a craft), the craft, its crew and the
    launch site named after the verb in its clause, and the countries owning them; a country written
    as a place ("in Kazakhstan") adds nothing that its site does not already say."""
    stop = CLAUSE_END.search(text, ev.end, party_end)
    end = stop.start() if stop else party_end
    near = [m for m in mentions if m.entity_type in PARTY_TYPES and m.start < end and ev.start - PARTY_WINDOW <= m.start]
    if ev.background:
        subject = []
    elif ev.trigger.kind == "noun" and any(m.entity_type == "SPACECRAFT" and m.end <= ev.start for m in near):
        subject = [m for m in near if m.entity_type == "SPACECRAFT" and m.end <= ev.start][-1:]  # "its launch": the craft's
    else:
        subject = _subject(near, ev, text)
    after = [m for m in near if m.start > ev.start
             and not (m.entity_type == "COUNTRY" and PLACE_OF.search(text, max(0, m.start - 40), m.start))]
    fliers = [m for m in subject if m.entity_type in ("SPACECRAFT", "PERSON")] or [m for m in near if m.entity_type == "PERSON" and m.end <= ev.start][-1:]
    ev.flier = (fliers[0].entity_type, fliers[0].entity_id) if fliers else None
    return subject + after


def _written_as_place(m: Mention, text: str) -> bool:
    """ "internships in France": a country named as where something happens, not as a partner."""
    return m.entity_type == "COUNTRY" and bool(PLACE_IN.search(text, max(0, m.start - 40), m.start))


def _split_partners(ev: Found, text: str, next_start: int) -> list[Found]:
    """An agreement with a list of partners is one agreement per partner (the annotation convention).
    The partners are those named after the trigger and before the next one, when it names any ("agreed
    to deliver to A, B and C, and concluded deals with D and E")."""
    if ev.trigger.event_type not in SPLIT_TYPES or len(ev.countries) < 3:
        return [ev]
    source = next((m for m, r in ev.parties if r == "source" and m.country), None)
    if source is None:
        return [ev]
    partners = [m for m, _ in ev.parties if m.country and m.country != source.country and not _written_as_place(m, text)]
    own = [m for m in partners if ev.end <= m.start < next_start]
    out = []
    for c in ev.countries:
        if c == source.country or not any(m.country == c for m in own or partners):
            continue
        part = Found(ev.trigger, ev.start, ev.end, ev.sentence_index, ev.sentence_span, ev.status, ev.negated, ev.status_basis)
        part.parties = [(source, "source")] + [(m, "target") for m, _ in ev.parties if m.country == c][:1]
        part.parties += [(m, "participant") for m, _ in ev.parties if m.country == c][1:]
        part.countries = tuple(sorted({source.country, c}))
        part.partner = c
        part.date, part.location, part.sectors = ev.date, ev.location, ev.sectors
        out.append(part)
    return out or [ev]


def _split_years(ev: Found, text: str) -> list[Found]:
    """A flight or visit told with a list of years ("flew in 1994, 1998 and 2001") is one per year."""
    years = YEAR_LIST.match(text, ev.end) if ev.trigger.event_type in REPEATED else None
    if years is None:
        return [ev]
    out = [ev]
    for year in re.findall(r"\d{4}", years.group(2)):
        again = Found(ev.trigger, ev.start, ev.end, ev.sentence_index, ev.sentence_span, ev.status, ev.negated, ev.status_basis)
        again.parties, again.countries, again.completed = list(ev.parties), ev.countries, ev.completed
        again.date, again.location, again.sectors = EventDate(_dt.date(int(year), 1, 1), "year", "explicit"), ev.location, ev.sectors
        again.partner = year
        out.append(again)
    return out


def _location(ev: Found, mentions: list[Mention], text: str, place_names: dict[str, str], dateline: str | None) -> str | None:
    """A place written as "in Astana", "at Baikonur" near the trigger, else the dateline for fresh news."""
    best, best_gap = None, 10**9
    for m in mentions:
        if m.entity_type not in PLACE_TYPES:
            continue
        if ev.trigger.event_type == "VISIT" and 0 <= m.start - ev.end <= 6:  # "visited the Centre"
            return m.entity_id
        if not PLACE_PREPOSITION.search(text[max(0, m.start - 22):m.start]):
            continue
        gap = m.start - ev.end if m.start >= ev.end else ev.start - m.end + 20
        if gap < best_gap:
            best, best_gap = m.entity_id, gap
    if best:
        return best
    if dateline and ev.date is not None and ev.date.basis == "publication":
        return place_names.get(dateline.lower())
    return None


def _fold(found: list[Found], text: str) -> list[Found]:
    """One event per distinct act: repeated reports (same type, parties, status, compatible date) fold
    into the first. Meetings and visits are usually told several times; documents, launches and
    projects are often several distinct ones, so those fold only when the text refers back ("the
    memorandum", "this agreement") or within one sentence."""
    kept: list[Found] = []
    for ev in found:
        twin = None
        etype = ev.trigger.event_type
        item = next(iter(ev.told))  # (sentence, list item) of this report
        refers_back = ANAPHORIC.search(text[max(0, ev.start - 45):ev.start]) and not INDEFINITE_OBJECT.match(text, ev.end)
        distinct_kind = etype in OFTEN_SEVERAL and etype not in ONE_PER_STORY and not refers_back
        # "signed a memorandum" may bring in a new document; "signed the memorandum", "was signed" tell one again
        retold_signing = (etype == "SIGN_AGREEMENT" and ev.trigger.kind != "noun" and not NEW_ONE.search(text[ev.sentence_span[0]:ev.start])
                          and not INDEFINITE_OBJECT.match(text, ev.end))
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
            if kd and ed and kd != ed:
                continue
            if etype in STAYS and not refers_back and _other_people(k, ev):
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


def _item(ev: Found, text: str) -> tuple[int, int]:
    """(sentence, list item) of a report: the items of a bulleted list ("documents: - A Memorandum of
    ... - A Memorandum of ...") are distinct things even when the sentence splitter joins them."""
    return ev.sentence_index, len(LIST_ITEM.findall(text, ev.sentence_span[0], ev.start))


def _row(article_id: str, text: str, ev: Found, published) -> tuple[dict, list[dict]]:
    t = ev.trigger
    event_id = "evt-" + hashlib.sha1(f"{article_id}|{t.event_type}|{ev.start}|{ev.end}|{ev.partner or ''}".encode()).hexdigest()[:16]
    source = next((m for m, r in ev.parties if r == "source"), None)
    target = next((m for m, r in ev.parties if r == "target"), None)
    countries = list(ev.countries)
    source_country = source.country if source and source.country else (countries[0] if countries else None)
    target_country = target.country if target and target.country and target.country != source_country else next((c for c in countries if c != source_country), None)
    confidence = t.confidence * (0.8 if ev.completed else 1.0) * (0.9 if ev.status_basis == "carry" else 1.0)
    date = ev.date
    row = {
        "event_id": event_id, "article_id": article_id, "event_type": t.event_type,
        "cameo_code": t.cameo_code, "plover_type": t.plover_type, "cluster_id": event_id,
        "status": ev.status, "negated": ev.negated,
        "source_entity_id": source.entity_id if source else None,
        "target_entity_id": target.entity_id if target else None,
        "source_country": source_country, "target_country": target_country,
        "location_entity_id": ev.location,
        "event_date": date.date if date else None,
        "date_precision": date.precision if date else None,
        "date_basis": date.basis if date else None,
        "sectors": list(ev.sectors), "trigger": text[ev.start:ev.end],
        "sentence": text[ev.sentence_span[0]:ev.sentence_span[1]], "start": ev.start, "end": ev.end, "confidence": round(min(max(confidence, 0.05), 1.0), 3),
    }
    parts = [{"event_id": event_id, "entity_id": m.entity_id, "role": role, "article_id": article_id} for m, role in ev.parties]
    return row, parts

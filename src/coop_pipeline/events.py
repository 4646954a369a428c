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
from dataclasses import replace
from operator import attrgetter

import pandas as pd

from coop_pipeline.dates import DateFinder
from coop_pipeline.event_clusters import assign_clusters  # noqa: F401  (public API of the stage)
from coop_pipeline.event_fold import fold
from coop_pipeline.event_found import Found, Mention
from coop_pipeline.event_lexicon import EventResources, group_index, Trigger, WordStarts
from coop_pipeline.event_parties import BILATERAL, PLACE_PREPOSITION, PLACE_TYPES, SPLIT_TYPES, find_parties, main_countries, split_partners, split_years
from coop_pipeline.event_status import DateIndex, EventDate, find_cues, is_finite_past, sector_hits, status_of
from coop_pipeline.schemas import columns, empty_frame
from coop_pipeline.text import sentence_spans
from coop_pipeline.vocabulary import vocabulary

# "interest in cooperating": the content of an intention is not a second event.
# Joint work that is only intended, discussed or invited is the content of that act, not a second event.
NESTED_SUPPRESSED = frozenset({"COOPERATE"})
# What parties agreed or wished to set up is the content of the agreement, not an establishment yet.
GOVERNED_SUPPRESSED = frozenset({"ESTABLISH"})
# A visit still ahead in the sentence of an invitation ("invited the President to pay a visit next
# year") is what the invitation is to, its content: the invitation is the event reported. A gathering
# invited to ("invited French companies to the forum, to be held in May") keeps a planned record of its
# own: the forum's date and place are news the invitation does not carry.
INVITED_CONTENT = frozenset({"VISIT"})
AHEAD = frozenset({"planned", "proposed"})
WEAK = 0.8  # a trigger less sure than this needs both sides named in its own sentence
# A participle describing a noun ("successfully launched Kazakh satellites", "the newly established
# agency") recalls a background fact: it has no subject of its own and no date of the news. It follows a
# determiner or preposition, or a comma and an adverb, and comes before a bare noun (a verb takes "the").
ATTRIBUTIVE = re.compile(r"(?:\b(?:the|a|an|its|their|his|her|our|of|with)\s+(?:\w+ly\s+)?|[,;(]\s*\w+ly\s+)$", re.IGNORECASE)
BARE_NOUN = re.compile(r"\s+(?!(?:the|a|an|its|their|his|her|our|this|that|these|those|it|them|him|by|in|on|at|from|to|into|as|for)\b)[\w-]", re.IGNORECASE)
# The lookaheads of SIDES and BRIEFED name the first letters of their words: tried at every word start of
# every trigger sentence, the alternation is then entered only where one of them can begin (a third faster).
SIDES = re.compile(r"\b(?=[tbjmi])(?:the (?:two |both )?(?:parties|sides|countries|nations|states|governments|agencies)|both (?:sides|parties|countries|nations)|bilateral|jointly|mutual|together with|in (?:close )?(?:partnership|cooperation|collaboration) with)\b", re.IGNORECASE)
# Deciding to do something is that thing, planned ("decided to start joint projects"); a decision
# on a subject with no act of its own after it ("the partnership decided on by the Presidents") is AGREE.
DECIDE_TO = re.compile(r"decid(?:ed|es|e)\b(?! on\b)", re.IGNORECASE)
DECISION_REACH = 40  # characters from "decided" to the act decided on
# Intending to set something up is told as that establishment, planned ("intends to set up an
# academy"): the institution to be, not the wish, is what such a report is about.
INTEND_TO = re.compile(r"(?:intends?|intending|intended) to\b", re.IGNORECASE)
INTENDED_ACTS = frozenset({"ESTABLISH", "VISIT"})  # "intends to send a trade mission to Kenya": a planned visit
# "Under this memorandum, the parties agreed to collaborate": the agreeing is the document itself (its
# signing is told elsewhere), and what was agreed is what the document provides for, its content.
UNDER_DOCUMENT = re.compile(r"\W*(?:under|within|by) (?:the|this|that|these|its|their) (?:[\w-]+ ){0,3}(?:memorand(?:um|a)|agreements?|deals?|documents?|accords?|treat(?:y|ies)|protocols?|contracts?|road ?maps?)\b[^,]{0,60},", re.IGNORECASE)
# A bare plural opening a sentence speaks of a kind ("Bilateral agreements, he noted, will make it possible").
BARE_PLURAL = re.compile(r"(?:[\w-]+ )?(?:agreements|memoranda|contracts|deals|treaties|protocols|accords|declarations)", re.IGNORECASE)
MET_ALONE = re.compile(r"(?:has |have |had )?(?:met|meets)", re.IGNORECASE)  # "met", not "met with"
BODY = re.compile(r"\b(?:Council|Cabinet|Committee|Commission|Parliament|Senate|Assembly|Board|Mazhilis|Majlis|Duma|Congress)\b")
# Verbs of choosing or judging, and of fostering: their object ("assess joint projects", "pinpoint joint
# projects", "promote joint research", "by encouraging joint research") is a topic or a goal, not joint
# work done or agreed.
TOPIC_VERB = re.compile(r"\b(?:assess|evaluat|pinpoint|identif|select|review|promot|encourag|foster|boost|deepen|expand|strengthen)\w*\s+(?:the\s+|possible\s+|new\s+|future\s+|potential\s+|further\s+|closer\s+)*$", re.IGNORECASE)
# A gerund with a bare common noun as object ("launching spacecraft", "launching small satellites")
# names a kind of work; a particular launch has a determiner or a name ("launching its satellite").
ACTIVITY_OBJECT = re.compile(r"\s+(?:[a-z-]+\s+){0,2}?(?:satellites|spacecraft|rockets|probes|payloads|missions)\b")
# What someone is informed or briefed on ("was informed on bilateral cooperation, ..., successfully
# launched satellites") are the topics of the briefing, not acts it reports.
BRIEFED = re.compile(r"\b(?=[ibtaf])(?:informed|briefed|told|acquainted|familiari[sz]ed)\s+(?:on|about|with)\b", re.IGNORECASE)
QUOTES = "\"“‘'«"
NAME_QUOTE = re.compile(r"\b(?:called|named|titled|entitled|dubbed)\s+[\"“‘'«]$", re.IGNORECASE)
SUBORDINATE = re.compile(r"(?:because|although|though|whereas|since|as|if|when|while)\b[^,;]{10,200},\s", re.IGNORECASE)
CAPABILITY = re.compile(r"\b(?:designed|used|able|capable|ways?|means)\s+(?:of|to)\s+$", re.IGNORECASE)
# "the signing, which was held virtually", "the launch ceremony took place at": where and how another
# act went, not a gathering of its own.
HELD = re.compile(r"(?:held|hosted|take place|took place|takes place)$", re.IGNORECASE)
HELD_SUBJECT_GAP = re.compile(r"(?:\s+(?:ceremony|ceremonies|event))?\s*,?\s*(?:which\s+|that\s+)?", re.IGNORECASE)
# The words between a document and the verb of its relative clause ("memorandum of understanding that
# the two sides have", "agreement, which was"): no clause break, at most a few words of subject.
OWN_RELATIVE = re.compile(r"(?: [\w-]+){0,4}?,? (?:that|which) (?:[\w-]+ ){0,5}?", re.IGNORECASE)
PASSIVE_BEFORE = re.compile(r"\b(?:be|been|being|is|are|was|were)\s+$", re.IGNORECASE)
FIGURATIVE_AFTER = re.compile(r"\s+(?:on|upon)\b", re.IGNORECASE)
ON_ACT = re.compile(r"(?:\s+(?:once\s+)?more|\s+again|\s+jointly|\s+closely)?\s*(?:\bon|\bin)?\s+(?:the\s+|a\s+|an\s+)?", re.IGNORECASE)
JOINT_REACH = 12  # characters between "set up" and "a joint venture"
DOCUMENT_REACH = 120  # characters after a document's trigger where its contents are told
CLAUSE_BREAK = re.compile(r"[,;:]|\s[–—-]\s")
NOMINAL_CONTENT_TYPES = frozenset({"ESTABLISH"})
NOMINAL = re.compile(r"\w+ing\b|creation|establishment|formation|opening|launch\b", re.IGNORECASE)
# "an agreement on creating the complex", "work on setting up a constellation": the act is the topic of
# another; "moving toward establishing an agency" is the establishment itself, under way.
CONTENT_OF = re.compile(r"\b(?:on|of|for|about|regarding)\s+(?:the\s+)?$", re.IGNORECASE)
# Attribution tails and heads ("..., Kazinform correspondent reports.") name no party of the event.
ATTRIBUTION = re.compile(r",[^,]{0,80}\b(?:reports?|says|said|informs|writes|according to)[^,]{0,60}[.]?$", re.IGNORECASE)


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
    unknown = ("", None, "", ())
    for a, e, s, en in zip(*(mentions[k].tolist() for k in ("article_id", "entity_id", "start", "end"))):
        t, c, _, _ = info.get((a, e), unknown)
        found = out.get(a)
        if found is None:
            found = out[a] = ([], {})
        found[0].append(Mention(int(s), int(en), e, t, c))
    for (a, e), (t, _, name, aliases) in info.items():
        if t in PLACE_TYPES and a in out:
            place_names = out[a][1]
            for n in (name, *list(aliases)):
                place_names.setdefault(n.lower(), e)
    in_text_order = attrgetter("start", "end")
    for ms, _ in out.values():
        ms.sort(key=in_text_order)
    return out


def article_events(res: EventResources, finder: DateFinder, text: str, published, ents: tuple[list[Mention], dict[str, str]], dateline: str | None) -> list[Found]:
    """The events of one article, repeated reports folded together."""
    mentions, place_names = ents
    words = WordStarts(text)  # shared by the trigger, sector and cue scans
    triggers = [(m.start(), m.end(), res.triggers[group_index(m)]) for m in res.trigger_pattern.finditer(words)]
    if not triggers:
        return []
    spans = sentence_spans(text)
    sent_starts = [s for s, _ in spans]
    mention_starts = [m.start for m in mentions]
    dates = DateIndex(finder, text, published)
    main = main_countries(mentions)
    country_entity: dict[str, Mention] = {}
    for m in mentions:
        if m.entity_type == "COUNTRY" and m.country:
            country_entity.setdefault(m.country, m)
    hits = []
    for si in sorted({bisect_right(sent_starts, t[0]) - 1 for t in triggers}):
        if si >= 0:
            hits += sector_hits(res, words, *spans[si])
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
        cues = find_cues(res, words, s_start, s_end, [(a, b, t.kind != "verb") for a, b, t in trigs])
        sentence = text[s_start:s_end]
        cut = ATTRIBUTION.search(sentence)
        party_end = s_start + cut.start() if cut else s_end
        lo, hi = bisect_right(mention_starts, s_start - 1), bisect_right(mention_starts, s_end)
        sent_mentions = [m for m in mentions[lo:hi] if m.end <= s_end]
        sides = bool(SIDES.search(sentence))
        lead = SUBORDINATE.match(sentence)  # "Because ..., there is room for joint ventures": its own clause
        briefed = BRIEFED.search(sentence)  # "was informed on bilateral cooperation, ... launched satellites": topics
        topics_from = s_start + briefed.end() if briefed else s_end
        main_start = s_start + lead.end() if lead else s_start
        carry, governed, decided, prev_end, document_end, invited = None, False, False, s_start, None, False
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
            content = content or (invited and trig.event_type in INVITED_CONTENT and status in AHEAD)
            invited = invited or trig.event_type == "INVITE"
            if content or (basis == "carry" and not decided and (trig.event_type in NESTED_SUPPRESSED or (governed and trig.event_type in GOVERNED_SUPPRESSED))):
                prev_end = t_end
                continue
            if trig.event_type in NOMINAL_CONTENT_TYPES and NOMINAL.match(text, t_start, t_end) and CONTENT_OF.search(text, max(s_start, t_start - 25), t_start):
                prev_end = t_end  # "an agreement on creating the complex": what a document is about, not an act
                continue
            if _not_an_act(text, trigs, i, s_start) or (t_start >= topics_from and text.find(";", topics_from, t_start) < 0):
                continue
            if trig.event_type == "AGREE" and UNDER_DOCUMENT.match(text, s_start, t_start):
                carry, governed, decided, prev_end = trig.governs, True, False, t_end  # what it provides for is its content too
                continue
            if _decides_next(text, trigs, i) and next_start - t_end <= DECISION_REACH:
                carry, governed, decided, prev_end = "planned", False, True, t_end  # "decided to start joint projects": planned projects
                continue
            ev = Found(trig, t_start, t_end, si, (s_start, s_end), status, negated, basis)
            ev.background = trig.kind == "verb" and text[t_end - 2:t_end] == "ed" and bool(ATTRIBUTIVE.search(text, max(s_start, t_start - 30), t_start) and BARE_NOUN.match(text, t_end))
            clause_mentions = [m for m in sent_mentions if m.start >= main_start] if lead and t_start >= main_start else sent_mentions
            find_parties(ev, clause_mentions, party_end, text, main, sides or (trig.event_type == "ESTABLISH" and _joint_object(trigs, i)), country_entity)
            # a noun whose sentence names nobody ("To participate in the discussion") says too little
            bare_noun = trig.kind == "noun" and not sides and not any(s_start <= m.start < s_end for m, _ in ev.parties)
            named_sides = len(ev.countries) >= 2 and (not ev.completed or sides)  # "the two countries" names both
            if trig.event_type == "COOPERATE" and _built_alone(text, t_start, t_end):
                ev = _own_making(ev, clause_mentions, party_end, text, main, sides, country_entity)
            if _body_in_session(ev, text) or bare_noun or (ev.trigger.confidence < WEAK and ev.trigger.event_type in BILATERAL and not named_sides and not _named_event_before(ev, sent_mentions)):
                prev_end = t_end
                continue
            ev.date = dates.near(s_start, s_end, t_start, t_end, status, prev_end, next_start)
            if ev.date and ev.date.date and published and ev.status == "occurred" and ev.date.date > published + _dt.timedelta(days=1):
                ev.status = "planned"  # a date ahead of publication: scheduled, not done
            if ev.date is None and ev.status == "occurred" and published is not None and not ev.background:
                ev.date = EventDate(published, "day", "publication")
            ev.location = _location(ev, sent_mentions, text, place_names, dateline)
            ev.sectors = sectors
            found.extend(split_partners(ev, text, next_start) if trig.event_type in SPLIT_TYPES else split_years(ev, text, next_start))
            if trig.governs:
                carry, governed, decided = trig.governs, trig.event_type in ("AGREE", "EXPRESS_INTENT"), False
            elif status in ("planned", "proposed") and not past:
                carry = status
            prev_end = t_end
    return fold(found, text, spans)


def _not_an_act(text: str, trigs: list[tuple[int, int, Trigger]], i: int, s_start: int) -> bool:
    """Trigger words that name, describe or qualify something rather than report an act."""
    t_start, t_end, trig = trigs[i]
    before = text[t_start - 3:t_start]  # most triggers follow neither a quote nor "to"/"of": skip the regexes
    if before[-1:] in QUOTES and NAME_QUOTE.search(text, max(s_start, t_start - 20), t_start):
        return True  # the project called "Creation of the Baiterek complex": a name, not an act
    if before in ("to ", "of ") and CAPABILITY.search(text, max(s_start, t_start - 25), t_start):
        return True  # "a complex designed to put satellites into orbit": what a thing is for, not an act
    if trig.kind == "noun" and not text[s_start:t_start].strip() and BARE_PLURAL.fullmatch(text, t_start, t_end):
        return True  # "Bilateral agreements will make it possible to ...": documents in general, not a signing
    if trig.kind == "noun" and trig.event_type == "SIGN_AGREEMENT" and _signing_told_after(text, trigs, i):
        return True  # "a memorandum that the two sides have signed": the verb reports the signing
    if trig.event_type == "COOPERATE" and trig.kind == "noun" and TOPIC_VERB.search(text, max(s_start, t_start - 30), t_start):
        return True  # "to assess joint projects", "will promote joint research": a topic or a goal, not joint work done
    if trig.event_type == "LAUNCH" and text[t_end - 3:t_end] == "ing" and ACTIVITY_OBJECT.match(text, t_end):
        return True  # "experience in building and launching spacecraft": a field of work, not a launch
    if trig.event_type == "CONSULT" and _held_of_another_act(text, trigs, i):
        return True  # "the signing, which was held virtually": the signing's circumstances
    # "a joint venture be set up": what is established, told by ESTABLISH (and its cues); "cooperate
    # once more on the launch of KazSat 2": the launch, done together
    return trig.event_type == "COOPERATE" and (_joint_object(trigs, i) or _cooperate_on_launch(text, trigs, i))


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


def _cooperate_on_launch(text: str, trigs: list[tuple[int, int, Trigger]], i: int) -> bool:
    """Working together on a launch named right after ("cooperate once more on the launch of the
    satellite") is that launch, with both sides, not joint work besides it."""
    return i + 1 < len(trigs) and trigs[i + 1][2].event_type == "LAUNCH" and bool(ON_ACT.fullmatch(text, trigs[i][1], trigs[i + 1][0]))


def _signing_told_after(text: str, trigs: list[tuple[int, int, Trigger]], i: int) -> bool:
    """A document named and then signed in its own relative clause ("a memorandum of understanding
    that the two sides have signed") is one act, reported by the verb with its tense."""
    if i + 1 >= len(trigs) or trigs[i + 1][2].event_type != "SIGN_AGREEMENT" or trigs[i + 1][2].kind == "noun":
        return False
    return bool(OWN_RELATIVE.fullmatch(text, trigs[i][1], trigs[i + 1][0]))


def _built_alone(text: str, t_start: int, t_end: int) -> bool:
    """ "Built" with a subject of its own: not a passive ("has been built"), a compound
    ("Russian-built") or a figure ("built on")."""
    return (text[t_start:t_end] == "built" and text[t_start - 1:t_start] != "-"
            and not PASSIVE_BEFORE.search(text, max(0, t_start - 8), t_start) and not FIGURATIVE_AFTER.match(text, t_end))


def _own_making(ev: Found, mentions: list[Mention], party_end: int, text: str, main: list[str], sides: bool, country_entity: dict[str, Mention]) -> Found:
    """What a subject built for itself ("a spaceport that the Soviet Union built", "we have built our
    third space system") is its establishment; built for another country ("Khrunichev built KazSat 1"
    for Kazakhstan) it stays joint work. Subject and object decide, not the rest of the sentence."""
    est = vocabulary().event_types["ESTABLISH"]
    own = Found(replace(ev.trigger, event_type="ESTABLISH", cameo_code=est.cameo_code, plover_type=est.plover_type), ev.start, ev.end, ev.sentence_index, ev.sentence_span, ev.status, ev.negated, ev.status_basis)
    own.background = ev.background
    find_parties(own, mentions, party_end, text, main, sides, country_entity)
    return own if len(own.countries) <= 1 else ev


def _held_of_another_act(text: str, trigs: list[tuple[int, int, Trigger]], i: int) -> bool:
    """ "Was held" or "took place" right after an act of another kind names ("the signing, which was
    held", "the signing ceremony took place") tells where or how that act went."""
    t_start, t_end, _ = trigs[i]
    if i == 0 or trigs[i - 1][2].event_type == "CONSULT" or not HELD.search(text, t_start, t_end):
        return False
    return bool(HELD_SUBJECT_GAP.fullmatch(text, trigs[i - 1][1], t_start))


def _body_in_session(ev: Found, text: str) -> bool:
    """ "The Security Council of Kazakhstan met on July 3": a council, cabinet or committee that meets,
    with nobody named to meet, is in session at home, not consulting another side."""
    if not MET_ALONE.fullmatch(text, ev.start, ev.end) or not ev.completed:
        return False
    source = next((m for m, r in ev.parties if r == "source"), None)
    return source is not None and source.entity_type == "ORGANIZATION" and bool(BODY.search(text, source.start, source.end))


def _decides_next(text: str, trigs: list[tuple[int, int, Trigger]], i: int) -> bool:
    """A decision ("decided to start joint projects") or an intention to set something up ("intends to
    set up an academy") whose act, the next trigger, is the event to report, planned."""
    t_start = trigs[i][0]
    if DECIDE_TO.match(text, t_start):
        return True
    return bool(INTEND_TO.match(text, t_start)) and i + 1 < len(trigs) and trigs[i + 1][2].event_type in INTENDED_ACTS


def _named_event_before(ev: Found, mentions: list[Mention]) -> bool:
    """"KADEX-2018, to be held in Astana": the subject is a named forum or exhibition, an event in itself."""
    return any(m.entity_type == "EVENT" and 0 <= ev.start - m.end <= 40 for m in mentions)


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

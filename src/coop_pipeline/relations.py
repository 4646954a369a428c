"""Relations stage: who holds which position, who cooperates with whom, what is located where.

`extract(articles, entities, resources)` turns the entity stage's facts (positions found with their
titles) and the co-occurrence of entities in one sentence with a cue word into `relationships` rows,
each with its evidence sentence and a stable id.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
from dataclasses import dataclass

import pandas as pd

from coop_pipeline.entities import FACT_COLUMNS
from coop_pipeline.resources import read_csv
from coop_pipeline.schemas import columns, empty_frame
from coop_pipeline.text import sentence_spans

_COOPERATE = re.compile(r"\b(?:cooperat\w*|partner\w*|collaborat\w*|memorand\w*|agreement|MoU|ties|relations|jointly|joint)\b", re.IGNORECASE)
_OPERATE = re.compile(r"\b(?:operat\w+|owns?|run(?:s|ning)?)\b", re.IGNORECASE)
_DEVELOP = re.compile(r"\b(?:built|build(?:ing)?|developed|develop(?:ing)?|made|manufactur\w+|produced|assembled|designed|together with|jointly with|with the help of)\b", re.IGNORECASE)
_LOCATED = re.compile(r"\b(?:in|at|near|located in|based in|situated in)\s+$")


@dataclass(frozen=True)
class RelationResources:
    """Sector words (compiled once) for the qualifier of COOPERATES_WITH."""

    sectors: tuple[tuple[str, re.Pattern[str]], ...]

    @classmethod
    def load(cls) -> "RelationResources":
        rows = read_csv("cooperation_sectors.csv", ("sector", "word"))
        return cls(tuple((r["sector"], re.compile(rf"\b{re.escape(r['word'])}\b", re.IGNORECASE)) for r in rows))

    def sector(self, sentence: str) -> str | None:
        return next((s for s, p in self.sectors if p.search(sentence)), None)


def relation_id(article_id: str, predicate: str, subject: str, obj: str, qualifier: str | None) -> str:
    digest = hashlib.sha1("|".join((article_id, predicate, subject, obj, qualifier or "")).encode()).hexdigest()[:16]
    return f"rel-{digest}"


def extract(articles: pd.DataFrame, entities: dict[str, pd.DataFrame], resources: object) -> pd.DataFrame:
    """Relationships stated in a batch of articles."""
    sectors = getattr(resources, "relations", None) or RelationResources.load()
    facts = entities.get("entity_facts")
    rows: dict[str, tuple] = {}
    texts = dict(zip(articles["article_id"].tolist(), articles["text"].tolist()))  # lists iterate faster than Arrow columns
    obs = {(a, e): (t, c) for a, e, t, c in zip(*_lists(entities["entity_observations"], "article_id", "entity_id", "entity_type", "country_iso3"))}
    by_article: dict[str, list[tuple[int, int, str]]] = {}
    for a, e, s, t in zip(*_lists(entities["mentions"], "article_id", "entity_id", "start", "end")):
        by_article.setdefault(a, []).append((s, t, e))
    spans_of = {a: sentence_spans(t) for a, t in texts.items()}
    starts_of = {a: [s for s, _ in spans] for a, spans in spans_of.items()}

    def add(article_id: str, predicate: str, subject: str, obj: str | None, qualifier: str | None, start: int, end: int, confidence: float) -> None:
        if not obj or subject == obj:
            return
        text, spans = texts[article_id], spans_of[article_id]
        k = max(0, bisect_right(starts_of[article_id], start) - 1)
        s_start, s_end = spans[k] if spans else (0, len(text))
        rid = relation_id(article_id, predicate, subject, obj, qualifier)
        if rid not in rows:
            rows[rid] = (rid, article_id, text[s_start:s_end] if s_start <= start < s_end else text[start:end], start, end, confidence, subject, predicate, obj, qualifier)

    if facts is not None:
        for a, predicate, subject, obj, qualifier, start, end, confidence in zip(*_lists(facts, *FACT_COLUMNS)):
            if a not in texts:
                continue
            obj = obj if isinstance(obj, str) else None
            if obj is None:
                country = obs.get((a, subject), (None, None))[1]
                obj = f"country:{country}" if isinstance(country, str) else None
            add(a, predicate, subject, obj, qualifier if isinstance(qualifier, str) else None, int(start), int(end), float(confidence))
    for article_id, ments in by_article.items():
        if article_id not in texts:
            continue
        text, spans, starts = texts[article_id], spans_of[article_id], starts_of[article_id]
        ments.sort()
        first: dict[str, tuple[int, int]] = {}
        for s, e, eid in ments:
            first.setdefault(eid, (s, e))
        for eid, (s, e) in first.items():
            etype, country = obs.get((article_id, eid), (None, None))
            if not isinstance(country, str) or etype == "COUNTRY":
                continue
            target = f"country:{country}"
            if etype == "PERSON":
                add(article_id, "REPRESENTS", eid, target, None, s, e, 0.7)
            elif etype == "ORGANIZATION":
                add(article_id, "PART_OF", eid, target, None, s, e, 0.6)
            elif etype in ("LOCATION", "FACILITY", "EVENT"):
                add(article_id, "LOCATED_IN", eid, target, None, s, e, 0.7)
        per_sentence: dict[int, list[tuple[int, int, str]]] = {}
        for s, e, eid in ments:
            per_sentence.setdefault(max(0, bisect_right(starts, s) - 1), []).append((s, e, eid))
        for k, items in per_sentence.items():
            sentence = text[spans[k][0] : spans[k][1]] if spans else text
            _sentence_relations(article_id, sentence, items, obs, sectors, text, add)
    if not rows:
        return empty_frame("relationships")
    df = pd.DataFrame(list(rows.values()), columns=["relation_id", "article_id", "sentence", "start", "end", "confidence", "subject_entity_id", "predicate", "object_entity_id", "qualifier"])
    return df[columns("relationships")]


def _lists(frame: pd.DataFrame, *names: str) -> list[list]:
    """Columns as Python lists: a loop over them is several times faster than over Arrow-backed columns."""
    return [frame[name].tolist() for name in names]


def _sentence_relations(article_id, sentence, items, obs, sectors, text, add) -> None:
    """Relations between entities of one sentence, signalled by a cue word."""
    kinds = {eid: obs.get((article_id, eid), (None, None)) for _, _, eid in items}
    countries = []
    for s, e, eid in items:
        if kinds[eid][0] == "COUNTRY" and eid not in [c[2] for c in countries]:
            countries.append((s, e, eid))
    if len(countries) >= 2 and _COOPERATE.search(sentence):
        sector = sectors.sector(sentence)
        for i in range(len(countries)):
            for j in range(i + 1, len(countries)):
                a, b = sorted((countries[i][2], countries[j][2]))
                add(article_id, "COOPERATES_WITH", a, b, sector, countries[i][0], countries[j][1], 0.6)
    crafts = [(s, e, eid) for s, e, eid in items if kinds[eid][0] in ("SPACECRAFT", "FACILITY")]
    actors = [(s, e, eid) for s, e, eid in items if kinds[eid][0] in ("ORGANIZATION", "COUNTRY")]
    if crafts and actors:
        develop, operate = bool(_DEVELOP.search(sentence)), bool(_OPERATE.search(sentence))
        for cs, ce, craft in crafts:
            for s, e, eid in actors:
                if develop and kinds[eid][1] != kinds[craft][1]:
                    add(article_id, "DEVELOPED_WITH", craft, eid, None, min(cs, s), max(ce, e), 0.5)
                elif operate and kinds[eid][1] == kinds[craft][1]:
                    add(article_id, "OPERATES", eid, craft, None, min(cs, s), max(ce, e), 0.5)
    for s, e, eid in items:
        if kinds[eid][0] not in ("FACILITY", "EVENT"):
            continue
        for s2, e2, place in items:
            if s2 > e and s2 - e < 40 and kinds[place][0] == "LOCATION" and _LOCATED.search(text[e:s2]):
                add(article_id, "LOCATED_IN", eid, place, None, s, e2, 0.7)
                break

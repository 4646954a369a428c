"""Score a run's tables against hand annotations (format: ../shared/corpus/gold/README.md).

Entities match within an article when their types agree (FACILITY may stand for ORGANIZATION or
LOCATION) and a name or alias matches after case, punctuation and a leading "the" are ignored; one
gold entity takes at most one predicted entity. Positions match when the person matched and the title
agrees. Events match when their type and set of party countries agree (one-to-one per article); an
article's predicted events are its distinct `cluster_id`s, as the contract counts real events.
`Report.misses` lists every miss: entity_fn/fp, country, position_fn/fp, event_fn/fp.
"""

from __future__ import annotations

import json
import re
import tempfile
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from coop_pipeline.config import Settings
from coop_pipeline.errors import ConfigError
from coop_pipeline.store import Store

ENTITY_TYPES = ("PERSON", "ORGANIZATION", "COUNTRY", "LOCATION", "FACILITY", "SPACECRAFT", "EVENT")


def norm(name: str) -> str:
    """Case, punctuation and a leading "the" ignored: "the U.S." -> "u s"."""
    name = unicodedata.normalize("NFKC", name).replace("’", "'").lower()
    name = re.sub(r"[^\w]+", " ", name).strip()
    return re.sub(r"^the\s+", "", name)


def types_agree(predicted: str, gold: str) -> bool:
    if predicted == gold:
        return True
    return "FACILITY" in (predicted, gold) and {predicted, gold} <= {"FACILITY", "ORGANIZATION", "LOCATION"}


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: "Tally") -> None:
        self.tp, self.fp, self.fn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn

    def scores(self) -> dict[str, float]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "tp": self.tp, "fp": self.fp, "fn": self.fn}


@dataclass
class Report:
    entity_by_type: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    country_right: int = 0
    country_total: int = 0
    positions: Tally = field(default_factory=Tally)
    events: Tally = field(default_factory=Tally)
    event_types: Tally = field(default_factory=Tally)
    status_right: int = 0
    status_total: int = 0
    articles: int = 0
    missing_articles: list[str] = field(default_factory=list)
    misses: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        overall = Tally()
        for t in self.entity_by_type.values():
            overall.add(t)
        return {
            "articles": self.articles,
            "missing_articles": self.missing_articles,
            "entities": {"overall": overall.scores(), **{t: self.entity_by_type[t].scores() for t in ENTITY_TYPES if t in self.entity_by_type}},
            "actor_country_accuracy": round(self.country_right / self.country_total, 4) if self.country_total else 0.0,
            "actor_country_matched": self.country_total,
            "positions": self.positions.scores(),
            "events": self.events.scores(),
            "event_types": self.event_types.scores(),
            "event_status_accuracy": round(self.status_right / self.status_total, 4) if self.status_total else 0.0,
            "event_status_matched": self.status_total,
        }


def load_gold(gold_dir: Path) -> list[dict]:
    files = sorted(p for p in gold_dir.glob("*.json"))
    if not files:
        raise ConfigError(f"no gold annotations (*.json) in {gold_dir}")
    return [json.loads(p.read_text(encoding="utf-8")) for p in files]


def score(out_dir: Path, gold: list[dict]) -> Report:
    """Compare the tables in `out_dir` with the gold annotations."""
    store = Store(out_dir)
    articles = store.read("articles", columns=["article_id", "source_path", "duplicate_paths"])
    by_path = {}
    for row in articles.itertuples(index=False):
        for path in [row.source_path, *row.duplicate_paths]:
            by_path[Path(path).name] = row.article_id
    obs = store.read("entity_observations")
    rels = store.read("relationships")
    events = store.read("events")
    parts = store.read("event_participants")
    obs_by_article = {a: g for a, g in obs.groupby("article_id")}
    rels = rels[rels["predicate"] == "HOLDS_POSITION"]
    rels_by_article = {a: g for a, g in rels.groupby("article_id")}
    events_by_article = {a: g for a, g in events.groupby("article_id")}
    parts_by_event = {e: g for e, g in parts.groupby("event_id")}
    report = Report()
    for doc in gold:
        article_id = by_path.get(Path(doc["file"]).name)
        if article_id is None:
            report.missing_articles.append(doc["file"])
            continue
        report.articles += 1
        predicted = obs_by_article.get(article_id, obs.iloc[0:0])
        matched = _entities(doc, predicted, report)
        _positions(doc, rels_by_article.get(article_id), matched, report)
        _events(doc, events_by_article.get(article_id), parts_by_event, predicted, report)
    return report


def _entities(doc: dict, predicted: pd.DataFrame, report: Report) -> dict[str, str]:
    """Match one article's entities; returns gold name -> predicted entity_id."""
    preds = []
    for row in predicted.itertuples(index=False):
        preds.append((row.entity_id, row.entity_type, row.country_iso3 if isinstance(row.country_iso3, str) else None, {norm(row.name)} | {norm(a) for a in row.aliases}, row.name))
    used: set[int] = set()
    matched: dict[str, str] = {}
    golds = doc.get("entities", [])
    # Best candidates first: same name and type, then a shared name or alias with the same type, then a
    # FACILITY standing in for an organization or place; one predicted entity per gold entity.
    for level in ("name", "alias", "compatible"):
        for g in golds:
            if g["name"] in matched:
                continue
            names = {norm(g["name"])} | {norm(a) for a in g.get("aliases", [])}
            for k, (eid, etype, country, pnames, pname) in enumerate(preds):
                if k in used or not (names & pnames):
                    continue
                if level == "name" and not (etype == g["type"] and norm(pname) == norm(g["name"])):
                    continue
                if (etype == g["type"]) if level != "compatible" else types_agree(etype, g["type"]):
                    used.add(k)
                    matched[g["name"]] = eid
                    report.entity_by_type[g["type"]].tp += 1
                    report.country_total += 1
                    if country == g.get("country"):
                        report.country_right += 1
                    else:
                        report.misses.append({"file": doc["file"], "kind": "country", "name": g["name"], "gold": g.get("country"), "predicted": country})
                    break
    for g in golds:
        if g["name"] not in matched:
            report.entity_by_type[g["type"]].fn += 1
            report.misses.append({"file": doc["file"], "kind": "entity_fn", "type": g["type"], "name": g["name"]})
    for k, (eid, etype, _, _, name) in enumerate(preds):
        if k not in used:
            report.entity_by_type[etype].fp += 1
            report.misses.append({"file": doc["file"], "kind": "entity_fp", "type": etype, "name": name, "entity_id": eid})
    return matched


def _positions(doc: dict, rels: pd.DataFrame | None, matched: dict[str, str], report: Report) -> None:
    predicted = set()
    if rels is not None:
        predicted = {(r.subject_entity_id, norm(r.qualifier or "")) for r in rels.itertuples(index=False)}
    gold = {(matched.get(p["person"]), norm(p["title"])) for p in doc.get("positions", [])}
    tally = Tally()
    for person, title in gold:
        if person is not None and (person, title) in predicted:
            tally.tp += 1
        else:
            tally.fn += 1
            report.misses.append({"file": doc["file"], "kind": "position_fn", "person": person, "title": title})
    for pair in predicted - gold:
        tally.fp += 1
        report.misses.append({"file": doc["file"], "kind": "position_fp", "person": pair[0], "title": pair[1]})
    report.positions.add(tally)


def _events(doc: dict, events: pd.DataFrame | None, parts_by_event: dict, observations: pd.DataFrame, report: Report) -> None:
    gold = doc.get("events", [])
    predicted = _predicted_events(events, parts_by_event, observations)
    pairs = _match_events(gold, predicted)
    tally = Tally()
    for i, g in enumerate(gold):
        hit = pairs.get(i)
        if hit is None:
            tally.fn += 1
            report.misses.append({"file": doc["file"], "kind": "event_fn", "type": g["type"], "countries": sorted(g.get("countries") or []),
                                  "status": g.get("status"), "evidence": g.get("evidence")})
            continue
        tally.tp += 1
        report.status_total += 1
        report.status_right += int(predicted[hit]["status"] == g.get("status"))
    used = set(pairs.values())
    for k, p in enumerate(predicted):
        if k not in used:
            tally.fp += 1
            report.misses.append({"file": doc["file"], "kind": "event_fp", "type": p["type"], "countries": sorted(p["countries"]),
                                  "status": p["status"], "trigger": p["trigger"], "sentence": p["sentence"]})
    report.events.add(tally)
    gold_types, pred_types = Counter(g["type"] for g in gold), Counter(p["type"] for p in predicted)
    common = sum((gold_types & pred_types).values())
    report.event_types.add(Tally(common, sum(pred_types.values()) - common, sum(gold_types.values()) - common))


def _match_events(gold: list[dict], predicted: list[dict]) -> dict[int, int]:
    """Gold index -> predicted index, one to one, on type and party countries; where several
    predictions could match, one with the gold's status is taken first."""
    pairs: dict[int, int] = {}
    used: set[int] = set()
    for same_status in (True, False):
        for i, g in enumerate(gold):
            if i in pairs:
                continue
            countries = frozenset(g.get("countries") or [])
            hit = next((k for k, p in enumerate(predicted) if k not in used and p["type"] == g["type"] and p["countries"] == countries
                        and (not same_status or p["status"] == g.get("status"))), None)
            if hit is not None:
                pairs[i] = hit
                used.add(hit)
    return pairs


def _predicted_events(events: pd.DataFrame | None, parts_by_event: dict, observations: pd.DataFrame) -> list[dict]:
    """One article's predicted events, one per distinct `cluster_id` (the contract counts real events
    that way: rows of one article telling the same event twice count once). A cluster is represented
    by its surest row; its party countries are those of its rows' source, target and participants."""
    if events is None:
        return []
    country_of = dict(zip(observations["entity_id"], observations["country_iso3"]))
    rows = events.sort_values(["confidence", "start"], ascending=[False, True], kind="stable")
    out: dict[str, dict] = {}
    for row in rows.itertuples(index=False):
        if row.cluster_id in out:
            continue
        countries = {c for c in (row.source_country, row.target_country) if isinstance(c, str)}
        part = parts_by_event.get(row.event_id)
        if part is not None:
            countries |= {country_of.get(e) for e in part["entity_id"] if isinstance(country_of.get(e), str)}
        out[row.cluster_id] = {"type": row.event_type, "countries": frozenset(countries), "status": row.status,
                               "trigger": row.trigger, "sentence": row.sentence, "start": row.start}
    return sorted(out.values(), key=lambda p: p["start"])


def evaluate(raw_dir: Path, gold_dir: Path, out_dir: Path | None = None) -> Report:
    """Run the pipeline (no Prefect) on `raw_dir` and score it against `gold_dir`."""
    from coop_pipeline.pipeline import run_local

    gold = load_gold(gold_dir)
    if out_dir is not None:
        run_local(Settings(raw_dir=raw_dir, out_dir=out_dir, full=True))
        return score(out_dir, gold)
    with tempfile.TemporaryDirectory(prefix="coop-evaluate-") as tmp:
        run_local(Settings(raw_dir=raw_dir, out_dir=Path(tmp), full=True))
        return score(Path(tmp), gold)


def format_table(result: dict) -> str:
    """The scores as a readable table."""
    lines = [f"articles scored: {result['articles']}" + (f" (not found in output: {len(result['missing_articles'])})" if result["missing_articles"] else "")]
    lines.append(f"{'entities':<22}{'P':>8}{'R':>8}{'F1':>8}{'TP':>6}{'FP':>6}{'FN':>6}")
    for name, s in result["entities"].items():
        lines.append(f"  {name:<20}{s['precision']:>8.3f}{s['recall']:>8.3f}{s['f1']:>8.3f}{s['tp']:>6}{s['fp']:>6}{s['fn']:>6}")
    for label, key in (("positions", "positions"), ("events", "events"), ("event types", "event_types")):
        s = result[key]
        lines.append(f"{label:<22}{s['precision']:>8.3f}{s['recall']:>8.3f}{s['f1']:>8.3f}{s['tp']:>6}{s['fp']:>6}{s['fn']:>6}")
    lines.append(f"{'actor-country accuracy':<22}{result['actor_country_accuracy']:>8.3f}   on {result['actor_country_matched']} matched entities")
    lines.append(f"{'event status accuracy':<22}{result['event_status_accuracy']:>8.3f}   on {result['event_status_matched']} matched events")
    return "\n".join(lines)

"""`coop-pipeline evaluate`: scores a run against gold annotations written here (never ../shared)."""

from __future__ import annotations

import json

import pytest

from coop_pipeline.cli import main
from coop_pipeline.evaluate import Tally, evaluate, norm, types_agree

ARTICLE = """Kazakhstan and Kenya discuss space cooperation

Barlybay Sadykov, Ambassador of Kazakhstan to Kenya, met with the Director General of the Kenya Space Agency Hillary B. Kipkosgey in Nairobi. Director General B. Kipkosgey thanked the Kazakh side.
"""
GOLD = {
    "file": "k.txt",
    "entities": [
        {"name": "Barlybay Sadykov", "type": "PERSON", "country": "KAZ", "aliases": []},
        {"name": "Hillary B. Kipkosgey", "type": "PERSON", "country": "KEN", "aliases": ["B. Kipkosgey"]},
        {"name": "Kenya Space Agency", "type": "ORGANIZATION", "country": "KEN", "aliases": []},
        {"name": "Kazakhstan", "type": "COUNTRY", "country": "KAZ", "aliases": ["Kazakh"]},
        {"name": "Kenya", "type": "COUNTRY", "country": "KEN", "aliases": []},
        {"name": "Nairobi", "type": "LOCATION", "country": "KEN", "aliases": []},
        {"name": "Mombasa", "type": "LOCATION", "country": "KEN", "aliases": []},
    ],
    "positions": [
        {"person": "Barlybay Sadykov", "title": "Ambassador", "of": "Kazakhstan", "country": "KAZ"},
        {"person": "Hillary B. Kipkosgey", "title": "Director General", "of": "Kenya Space Agency", "country": "KEN"},
    ],
    "events": [{"type": "CONSULT", "status": "occurred", "countries": ["KAZ", "KEN"]}],
}


@pytest.fixture
def corpus(tmp_path):
    raw, gold = tmp_path / "raw", tmp_path / "raw" / "gold"
    gold.mkdir(parents=True)
    (raw / "k.txt").write_text(ARTICLE, encoding="utf-8")
    (gold / "k.json").write_text(json.dumps(GOLD), encoding="utf-8")
    return raw, gold


def test_scores_entities_positions_and_countries(corpus, tmp_path):
    raw, gold = corpus
    result = evaluate(raw, gold, tmp_path / "out").as_dict()
    assert result["articles"] == 1
    overall = result["entities"]["overall"]
    assert overall["tp"] == 6 and overall["fn"] == 1  # Mombasa is not in the text
    assert result["entities"]["LOCATION"]["recall"] == 0.5
    assert result["actor_country_accuracy"] == 1.0
    assert result["positions"]["tp"] == 2 and result["positions"]["fn"] == 0
    assert result["events"]["tp"] + result["events"]["fn"] == 1


def test_cli_prints_table_and_json(corpus, tmp_path, capsys):
    raw, gold = corpus
    assert main(["evaluate", "--raw", str(raw), "--gold", str(gold), "--out", str(tmp_path / "o1")]) == 0
    table = capsys.readouterr().out
    assert "PERSON" in table and "actor-country accuracy" in table and "event status accuracy" in table
    assert main(["evaluate", "--raw", str(raw), "--gold", str(gold), "--json", "--misses", str(tmp_path / "m.jsonl")]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["entities"]["overall"]["fn"] == 1
    misses = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert {"file": "k.txt", "kind": "entity_fn", "type": "LOCATION", "name": "Mombasa"} in misses


def test_cli_skips_without_gold(tmp_path, capsys):
    assert main(["evaluate", "--raw", str(tmp_path), "--gold", str(tmp_path / "nowhere")]) == 0
    assert "skipped: gold directory" in capsys.readouterr().out


def test_matching_rules():
    assert norm("The U.S.") == "u s" == norm("u.s.")
    assert norm("KazSat-2") == norm("KazSat 2")
    assert types_agree("FACILITY", "ORGANIZATION") and types_agree("LOCATION", "FACILITY")
    assert not types_agree("ORGANIZATION", "LOCATION")
    assert Tally(8, 2, 2).scores()["f1"] == 0.8


def _event(event_id: str, cluster_id: str, etype: str, source: str, target: str, status: str = "occurred", confidence: float = 0.9) -> dict:
    return {"event_id": event_id, "cluster_id": cluster_id, "event_type": etype, "source_country": source, "target_country": target,
            "status": status, "confidence": confidence, "start": len(event_id), "trigger": "met", "sentence": f"{event_id} sentence"}


def test_events_count_once_per_cluster_and_misses_say_why():
    import pandas as pd

    from coop_pipeline.evaluate import Report, _events

    doc = {"file": "k.txt", "events": [
        {"type": "CONSULT", "status": "occurred", "countries": ["KAZ", "KEN"], "evidence": "met with"},
        {"type": "VISIT", "status": "planned", "countries": ["KAZ", "KEN"], "evidence": "will visit"},
    ]}
    rows = pd.DataFrame([
        _event("e1", "cl-a", "CONSULT", "KAZ", "KEN"),
        _event("e22", "cl-a", "CONSULT", "KEN", "KAZ", confidence=0.5),  # the same meeting told again: one event
        _event("e333", "cl-b", "LAUNCH", "KAZ", None),
    ])
    observations = pd.DataFrame({"entity_id": [], "country_iso3": []})
    report = Report()
    _events(doc, rows, {}, observations, report)
    assert (report.events.tp, report.events.fp, report.events.fn) == (1, 1, 1)
    assert report.status_right == report.status_total == 1
    kinds = {m["kind"]: m for m in report.misses}
    assert kinds["event_fn"] == {"file": "k.txt", "kind": "event_fn", "type": "VISIT", "countries": ["KAZ", "KEN"], "status": "planned", "evidence": "will visit"}
    assert kinds["event_fp"]["type"] == "LAUNCH" and kinds["event_fp"]["countries"] == ["KAZ"] and kinds["event_fp"]["sentence"] == "e333 sentence"


def test_a_match_with_the_gold_status_is_preferred():
    from coop_pipeline.evaluate import _match_events

    gold = [{"type": "SIGN_AGREEMENT", "countries": ["KAZ", "RUS"], "status": "planned"},
            {"type": "SIGN_AGREEMENT", "countries": ["KAZ", "RUS"], "status": "occurred"}]
    predicted = [{"type": "SIGN_AGREEMENT", "countries": frozenset({"KAZ", "RUS"}), "status": "occurred"},
                 {"type": "SIGN_AGREEMENT", "countries": frozenset({"KAZ", "RUS"}), "status": "planned"},
                 {"type": "CONSULT", "countries": frozenset({"KAZ", "RUS"}), "status": "planned"}]
    assert _match_events(gold, predicted) == {0: 1, 1: 0}
    assert _match_events(gold[:1], predicted[:1]) == {0: 0}  # a wrong status still matches

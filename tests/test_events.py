"""Events stage on case files (tests/cases/events/*.json): each case gives an article, the entities
the entities stage would find in it, and the events it must (and must not) yield."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coop_pipeline import events
from coop_pipeline.event_lexicon import EventResources
from coop_pipeline.schemas import Events, EventParticipants
from events_fixtures import CASES, case_inputs, entity_id, load_case, party_countries

CASE_FILES = sorted(CASES.glob("*.json"))


@pytest.fixture(scope="module")
def res() -> EventResources:
    return EventResources.load()


def _matches(ev, countries: set[str], names: dict[str, str], want: dict) -> bool:
    for key, value in want.items():
        if key == "n":
            continue
        if key == "countries":
            if countries != set(value):
                return False
        elif key == "event_date":
            got = ev["event_date"]
            if (got.isoformat() if isinstance(got, dt.date) else None) != value:
                return False
        elif key in ("location", "source", "target"):
            column = {"location": "location_entity_id", "source": "source_entity_id", "target": "target_entity_id"}[key]
            if names.get(ev[column]) != value:
                return False
        elif key == "sectors":
            if not set(value) <= set(ev["sectors"]):
                return False
        elif ev[key] != value:
            return False
    return True


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_case(path, res):
    case = load_case(path)
    articles, ents = case_inputs(case)
    out = events.extract(articles, ents, res)
    found, parts = out["events"], out["event_participants"]
    countries = party_countries(found, parts, ents)
    names = {entity_id(e): e["name"] for e in case["entities"]}
    rows = found.to_dict("records")
    described = [(r["event_type"], r["status"], sorted(countries[r["event_id"]]), r["event_date"], r["trigger"]) for r in rows]
    for want in case["expect"]:
        hits = [r for r in rows if _matches(r, countries[r["event_id"]], names, want)]
        assert hits, f"{path.name}: no event like {want}; found {described}"
        if "n" in want:
            same = [r for r in rows if r["event_type"] == want["event_type"] and countries[r["event_id"]] == set(want.get("countries", countries[r["event_id"]]))]
            assert len(same) == want["n"], f"{path.name}: expected {want['n']} x {want['event_type']}, found {described}"
    for unwanted in case.get("absent", []):
        assert not [r for r in rows if _matches(r, countries[r["event_id"]], names, unwanted)], f"{path.name}: unexpected {unwanted}: {described}"


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_records_pass_schema_and_quote_their_evidence(path, res):
    case = load_case(path)
    articles, ents = case_inputs(case)
    out = events.extract(articles, ents, res)
    text = case["text"]
    Events.validate(events.assign_clusters(out["events"]), lazy=True)
    EventParticipants.validate(out["event_participants"], lazy=True)
    for ev in out["events"].itertuples():
        assert text[ev.start:ev.end] == ev.trigger
        assert ev.sentence in text and ev.trigger in ev.sentence
        assert 0 < ev.confidence <= 1
    assert set(out["event_participants"]["event_id"]) <= set(out["events"]["event_id"])


def test_ids_are_stable(res):
    case = load_case(CASES / "consult_met_with.json")
    articles, ents = case_inputs(case)
    first = events.extract(articles, ents, res)["events"]["event_id"].tolist()
    second = events.extract(articles, ents, EventResources.load())["events"]["event_id"].tolist()
    assert first == second and len(set(first)) == len(first)


def test_no_entities_still_finds_events_without_parties(res):
    case = load_case(CASES / "launch_occurred_last_year.json")
    articles, _ = case_inputs(case)
    out = events.extract(articles, {"mentions": pd.DataFrame(), "entity_observations": pd.DataFrame()}, res)
    assert out["events"]["event_type"].tolist() == ["LAUNCH"]
    assert out["events"]["source_country"].isna().all() and out["event_participants"].empty


def test_batch_of_articles_keeps_each_articles_events(res):
    a, b = load_case(CASES / "consult_met_with.json"), load_case(CASES / "sign_passive_by.json")
    arts_a, ents_a = case_inputs(a, "art-000000000000000a")
    arts_b, ents_b = case_inputs(b, "art-000000000000000b")
    batch = pd.concat([arts_a, arts_b], ignore_index=True)
    ents = {k: pd.concat([ents_a[k], ents_b[k]], ignore_index=True) for k in ents_a}
    out = events.extract(batch, ents, res)["events"]
    assert set(out[out.article_id == "art-000000000000000a"]["event_type"]) >= {"CONSULT"}
    assert set(out[out.article_id == "art-000000000000000b"]["event_type"]) == {"SIGN_AGREEMENT"}


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400)
       | st.lists(st.sampled_from(["met", "signed", "will", "not", "on Monday", "13 November", "in 2018", " ", ". ",
                                   "Kazakhstan", "agreed to", "visit", "launched", "satellite", ",", "by"]), max_size=40).map("".join))
def test_arbitrary_text_never_raises(res, text):
    articles, ents = case_inputs({"text": text, "published_date": "2020-01-01", "entities": [{"name": "Kazakhstan", "type": "COUNTRY", "country": "KAZ"}]})
    out = events.extract(articles, ents, res)["events"]
    for ev in out.itertuples():
        assert 0 <= ev.start < ev.end <= len(text)

"""The two seed articles in raw/ through ingest, the entities stage and the events stage: the events
the project was designed from (issue 4, "Must show")."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from coop_pipeline.config import Settings
from coop_pipeline.extract import Resources, extract_article
from coop_pipeline.ingest import IngestRules, ingest_batch

RAW = Path(__file__).resolve().parents[1] / "raw"
SEED_000, SEED_002 = "000_e2e4173cf047b6d0.txt", "002_ab846ab5c136d731.txt"


@pytest.fixture(scope="module")
def seeds() -> dict[str, list[dict]]:
    """Per seed file: its events, each with party countries and participant and place names."""
    arts, _ = ingest_batch(RAW, [SEED_000, SEED_002], Settings(raw_dir=str(RAW), out_dir="/nonexistent"), IngestRules.load(), "test")
    out = extract_article(arts, Resources.load())
    obs = out["entity_observations"]
    name = dict(zip(obs["entity_id"], obs["name"]))
    country = dict(zip(obs["entity_id"], obs["country_iso3"]))
    parts = out["event_participants"]
    path_of = dict(zip(arts["article_id"], arts["source_path"]))
    result: dict[str, list[dict]] = {SEED_000: [], SEED_002: []}
    for ev in out["events"].to_dict("records"):
        mine = parts[parts["event_id"] == ev["event_id"]]
        ev["participants"] = {name.get(e) for e in mine["entity_id"]}
        ev["countries"] = {c for c in (ev["source_country"], ev["target_country"]) if isinstance(c, str)}
        ev["countries"] |= {country[e] for e in mine["entity_id"] if isinstance(country.get(e), str)}
        ev["place"] = name.get(ev["location_entity_id"])
        result[path_of[ev["article_id"]]].append(ev)
    return result


def _one(events: list[dict], **want) -> dict:
    hits = [e for e in events if all(e[k] == v for k, v in want.items())]
    assert hits, f"no event with {want} in {[(e['event_type'], e['status'], e['countries'], e['trigger']) for e in events]}"
    return hits[0]


def test_002_consult_in_astana_on_publication_day(seeds):
    ev = _one(seeds[SEED_002], event_type="CONSULT", status="occurred", place="Astana")
    assert ev["countries"] == {"KAZ", "FRA"}
    assert ev["event_date"] == dt.date(2017, 9, 11)
    assert {"Beibut Atamkulov", "Jean-Baptiste Lemoyne"} <= ev["participants"]


def test_002_invitation_made_and_exhibition_planned(seeds):
    invite = _one(seeds[SEED_002], event_type="INVITE", status="occurred")
    assert invite["countries"] == {"KAZ", "FRA"} and invite["source_country"] == "KAZ" and invite["target_country"] == "FRA"
    assert invite["event_date"] == dt.date(2017, 9, 11)
    assert any(p and "Space Days" in p for p in invite["participants"])
    assert any(p and ("KADEX" in p or "Exhibition" in p) for p in invite["participants"])
    show = _one(seeds[SEED_002], event_type="CONSULT", status="planned")
    assert show["event_date"] == dt.date(2018, 5, 1) and show["date_precision"] == "month"
    assert show["place"] == "Astana"


def test_002_visit_to_the_national_space_center(seeds):
    ev = _one(seeds[SEED_002], event_type="VISIT", status="occurred")
    assert "National Space Center" in ev["participants"] and ev["place"] == "National Space Center"
    assert ev["source_country"] == "FRA"


def test_000_consult_in_nairobi(seeds):
    ev = _one(seeds[SEED_000], event_type="CONSULT", status="occurred")
    assert ev["place"] == "Nairobi" and ev["countries"] == {"KAZ", "KEN"}
    assert ev["event_date"] == dt.date(2025, 9, 5) and ev["date_basis"] == "publication"


def test_000_proposals_intent_agreement_and_planned_video_conferences(seeds):
    events = seeds[SEED_000]
    visit = _one(events, event_type="VISIT", status="proposed")
    assert visit["countries"] == {"KAZ", "KEN"} and visit["event_date"] is None
    assert _one(events, event_type="SIGN_AGREEMENT", status="proposed")["countries"] == {"KAZ", "KEN"}
    intent = _one(events, event_type="EXPRESS_INTENT", status="occurred")
    assert intent["source_country"] == "KEN" and intent["target_country"] == "KAZ"
    agree = _one(events, event_type="AGREE", status="occurred")
    assert agree["countries"] == {"KAZ", "KEN"}
    calls = _one(events, event_type="CONSULT", status="planned")
    assert "video conference" in calls["trigger"] and calls["countries"] == {"KAZ", "KEN"}

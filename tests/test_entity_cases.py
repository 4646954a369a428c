"""Known-good case files pin the hard patterns of entity extraction (tests/cases/entities/<id>.txt + .json).

Each .json lists entities (a form seen in the text, its type and country), positions (person and title)
and positions that must not be found,
groups of mentions that must resolve to one entity, forms that must not become entities, and mention
counts. Written by hand for these tests; nothing here is read from ../shared.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coop_pipeline import entities, relations
from coop_pipeline.page import find_dateline

CASES = Path(__file__).parent / "cases" / "entities"
CASE_IDS = sorted(p.stem for p in CASES.glob("*.txt"))


def run_case(name: str, resources, article_frame):
    text = (CASES / f"{name}.txt").read_text(encoding="utf-8").strip("\n")
    spec = json.loads((CASES / f"{name}.json").read_text(encoding="utf-8"))
    dateline, _ = find_dateline(text.split("\n", 1)[0])
    frame = article_frame(text, dateline=dateline, publisher=spec.get("publisher", "Kazinform"))
    found = entities.extract(frame, resources)
    rels = relations.extract(frame, found, resources)
    return text, spec, found, rels


def forms_of(observations) -> dict[str, list]:
    out: dict[str, list] = {}
    for row in observations.itertuples(index=False):
        for form in [row.name, *row.aliases]:
            out.setdefault(form, []).append(row)
    return out


@pytest.mark.parametrize("name", CASE_IDS)
def test_entities(name, resources, article):
    _, spec, found, _ = run_case(name, resources, article)
    forms = forms_of(found["entity_observations"])
    for expected in spec["entities"]:
        rows = [r for r in forms.get(expected["form"], []) if r.entity_type == expected["type"]]
        assert rows, f"{name}: no {expected['type']} {expected['form']!r}; found {sorted(forms)}"
        country = rows[0].country_iso3 if isinstance(rows[0].country_iso3, str) else None
        assert country == expected["country"], f"{name}: {expected['form']} country {country}"


@pytest.mark.parametrize("name", CASE_IDS)
def test_positions(name, resources, article):
    _, spec, found, rels = run_case(name, resources, article)
    forms = forms_of(found["entity_observations"])
    held = {(r.subject_entity_id, r.qualifier) for r in rels.itertuples(index=False) if r.predicate == "HOLDS_POSITION"}
    for expected in spec["positions"]:
        person = forms[expected["person"]][0].entity_id
        assert (person, expected["title"]) in held, f"{name}: {expected} not in {held}"
    for unexpected in spec.get("no_positions", []):
        person = forms[unexpected["person"]][0].entity_id
        assert (person, unexpected["title"]) not in held, f"{name}: {unexpected} should not be held"


@pytest.mark.parametrize("name", CASE_IDS)
def test_coreference_and_absences(name, resources, article):
    _, spec, found, _ = run_case(name, resources, article)
    mentions = found["mentions"]
    for group in spec.get("same_entity", []):
        ids = {tuple(sorted(set(mentions.loc[mentions["text"] == form, "entity_id"]))) for form in group}
        assert len(ids) == 1 and all(ids), f"{name}: {group} resolve to {ids}"
    forms = forms_of(found["entity_observations"])
    for form in spec.get("absent", []):
        assert form not in forms, f"{name}: {form!r} should not be an entity"
    for form, count in spec.get("mentions_of", {}).items():
        assert int((mentions["text"] == form).sum()) == count, f"{name}: mentions of {form!r}"

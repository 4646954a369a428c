"""Relations stage: each predicate from a sentence that states it, with evidence that points back to it."""

from __future__ import annotations

from coop_pipeline import entities, relations

TEXT = (
    "Kazakhstan and France agreed to expand space cooperation. "
    "KazEOSat-1 was built together with French engineers. "
    "The KADEX-2026 exhibition will be held in Astana. "
    "Aigerim Sultanova, Deputy Minister of Digital Development, Innovation and Aerospace Industry, attended."
)


def _relations(resources, article):
    frame = article(TEXT)
    found = entities.extract(frame, resources)
    return relations.extract(frame, found, resources)


def test_each_predicate_with_its_evidence(resources, article):
    rels = _relations(resources, article)
    facts = {(r.subject_entity_id, r.predicate, r.object_entity_id, r.qualifier if isinstance(r.qualifier, str) else None) for r in rels.itertuples(index=False)}
    assert ("country:FRA", "COOPERATES_WITH", "country:KAZ", "space") in facts
    assert ("craft:kazeosat-1", "DEVELOPED_WITH", "country:FRA", None) in facts
    assert ("event:kadex", "LOCATED_IN", "place:astana-kaz", None) in facts
    assert ("person:aigerim-sultanova", "HOLDS_POSITION", "country:KAZ", "Deputy Minister") in facts or (
        "person:aigerim-sultanova", "HOLDS_POSITION", "org:kaz-ministry-of-digital-development", "Deputy Minister") in facts
    assert ("person:aigerim-sultanova", "REPRESENTS", "country:KAZ", None) in facts
    for r in rels.itertuples(index=False):
        assert r.sentence in TEXT
        assert 0 <= r.start <= r.end <= len(TEXT)
        assert 0 <= r.confidence <= 1


def test_relation_ids_are_stable_and_unique(resources, article):
    first, second = _relations(resources, article), _relations(resources, article)
    assert first["relation_id"].is_unique
    assert list(first["relation_id"]) == list(second["relation_id"])
    assert all(rid.startswith("rel-") for rid in first["relation_id"])

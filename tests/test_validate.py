"""Validation: pandera models per table; bad rows go to quarantine with the failure case."""

from __future__ import annotations

import pandas as pd

from coop_pipeline.schemas import MODELS, columns, empty_frame
from coop_pipeline.validate import validate_table
from coop_pipeline.vocabulary import vocabulary


def mention(i: int, start: int = 0, end: int = 5, entity: str = "country:KAZ") -> dict:
    return {"mention_id": f"art-{i:016x}:{start}-{end}", "article_id": f"art-{i:016x}", "entity_id": entity,
            "text": "Kazak", "start": start, "end": end, "sentence_index": 0}


def test_good_rows_pass_and_bad_rows_are_quarantined_with_reason():
    rows = [mention(1), mention(2, start=9, end=3), mention(3)]
    rows[2]["mention_id"] = rows[0]["mention_id"]  # duplicate primary id
    valid, rejected = validate_table("mentions", pd.DataFrame(rows), "run-1", {"art-0000000000000002": "b.txt"})
    assert list(valid["article_id"]) == []  # both duplicates and the bad span are rejected
    reasons = {(r["record_id"], r["reason"]) for r in rejected}
    assert ("art-0000000000000002:9-3", "schema:mentions") in reasons
    span = next(r for r in rejected if r["record_id"] == "art-0000000000000002:9-3")
    assert span["source_path"] == "b.txt" and "start_before_end" in span["detail"]
    dup = [r for r in rejected if "field_uniqueness" in r["detail"]]
    assert len(dup) == 2


def test_enumerations_come_from_the_vocabulary_files():
    vocab = vocabulary()
    assert "SIGN_AGREEMENT" in vocab["event_type"] and "FACILITY" in vocab["entity_type"]
    bad = {**mention(1), "entity_id": "country:KAZ"}
    entities = pd.DataFrame([{"entity_id": "country:KAZ", "name": "Kazakhstan", "entity_type": "NATION", "country_iso3": "KAZ",
                              "aliases": ["Kazakh"], "latitude": None, "longitude": None, "n_mentions": 1, "n_articles": 1}])
    valid, rejected = validate_table("entities", entities, "run-1")
    assert valid.empty and "isin" in rejected[0]["detail"]
    assert bad  # the mention itself is fine
    assert validate_table("mentions", pd.DataFrame([bad]), "run-1")[1] == []


def test_every_table_has_a_model_and_empty_frame():
    for table in MODELS:
        frame = empty_frame(table)
        assert list(frame.columns) == columns(table)
        valid, rejected = validate_table(table, frame, "run-1")
        assert valid.empty and rejected == []

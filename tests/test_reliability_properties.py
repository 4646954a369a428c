"""Property tests: arbitrary Unicode never makes the extraction stages raise, offsets stay inside the
text, and the same input gives the same ids."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coop_pipeline.config import Settings
from coop_pipeline.decoding import decode
from coop_pipeline.errors import IngestError
from coop_pipeline.extract import OUTPUT_TABLES, Resources, extract_batch
from coop_pipeline.ingest import IngestRules, ingest_file, make_article_id
from coop_pipeline.text import normalize, sentence_spans
from reliability_helpers import article, fake_entities, fake_events, fake_relations

PROPERTY = settings(max_examples=int(os.environ.get("COOP_HYPOTHESIS_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Arbitrary Unicode, and text made of the pieces news pages are made of (so that the rules fire).
PIECES = [
    "Kazakhstan", "Kenya", "France", "the Minister", "Director General", "B. Kipkosgey", "JSC \"NC KGS\"", "KazSat-3",
    "ASTANA. KAZINFORM -", "05.09.2025, 18:40 72666", "date 2017-09-11", "met with", "signed a memorandum", "on May 3, 2018",
    "Mr.", "U.S.", "e.g.", "(", ")", "«", "»", "“", "”", ".", ",", "!", "?", " ", " ", "\n", "\n\n", "\t", "\u00a0", "\u200b",
    "é", "\u0301", "Қазақстан", "Россия", "北京", "🚀", "\r\n", "-", "—", "© Kazinform", "relevant news", "Images | gov.kz",
]
newsy = st.lists(st.sampled_from(PIECES), max_size=80).map("".join)
texts = st.one_of(st.text(max_size=400), newsy, st.builds(lambda a, b: a + b, newsy, st.text(max_size=100)))


@pytest.fixture(scope="module")
def rules() -> IngestRules:
    return IngestRules.load()


@PROPERTY
@given(texts)
def test_sentence_spans_stay_inside_the_text_in_order(text):
    spans = sentence_spans(text)
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        assert not text[start].isspace() and not text[end - 1].isspace()
        assert "\n" not in text[start:end]
        previous_end = end


@PROPERTY
@given(texts)
def test_normalize_is_idempotent_and_drops_controls(text):
    once = normalize(text)
    assert normalize(once) == once
    assert not any(ord(c) < 32 and c != "\n" for c in once)


@PROPERTY
@given(st.binary(max_size=3000))
def test_decode_returns_text_or_a_reason(data):
    try:
        text, encoding = decode(data)
    except IngestError as exc:
        assert exc.reason in {"empty", "binary", "undecodable"} and exc.detail
    else:
        assert isinstance(text, str) and encoding


@PROPERTY
@given(content=st.one_of(texts, st.builds(lambda t, i: article(i) + t, texts, st.integers(0, 50))), encoding=st.sampled_from(["utf-8", "utf-16", "cp1252", "cp1251"]))
def test_ingest_file_gives_an_article_or_a_reason_and_the_same_id_twice(rules, content, encoding):
    data = content.encode(encoding, errors="replace")
    with tempfile.TemporaryDirectory() as raw:
        (Path(raw) / "a.txt").write_bytes(data)
        try:
            row = ingest_file(Path(raw), "a.txt", Settings(), rules)
        except IngestError as exc:
            assert exc.reason and exc.detail
            return
        again = ingest_file(Path(raw), "a.txt", Settings(), rules)
    assert row["article_id"] == again["article_id"] == make_article_id(row["text"])
    assert row["n_chars"] == len(row["text"]) and row["text"] == normalize(row["text"])
    assert all(0 <= s < e <= len(row["text"]) for s, e in sentence_spans(row["text"]))


@PROPERTY
@given(texts, st.one_of(st.none(), texts))
def test_page_parsing_never_raises(rules, text, hint):
    page = rules.page.parse(normalize(text), hint_title=hint)
    assert isinstance(page.text, str)
    assert page.published_date is None or isinstance(page.published_date, dt.date)
    assert page.date_source in {"header", "dateline", "body", "none"}


def articles_frame(bodies: list[str]) -> pd.DataFrame:
    """Articles as ingest makes them: the text is normalised (no control characters, NFC)."""
    rows = []
    for i, body in enumerate(map(normalize, bodies)):
        rows.append({
            "article_id": make_article_id(body), "source_path": f"p{i}.txt", "duplicate_paths": [],
            "source_name": None, "title": None, "published_date": dt.date(2024, 3, 1 + i % 28), "date_source": "header", "dateline": None,
            "language": "en", "encoding": "utf-8", "text": body, "n_chars": len(body), "n_sentences": len(sentence_spans(body)),
            "content_sha256": "0" * 64, "ingested_at": pd.Timestamp("2024-03-01", tz="UTC"), "pipeline_version": "test",
        })
    return pd.DataFrame(rows).drop_duplicates("article_id")


def check_records(articles: pd.DataFrame, records: dict[str, pd.DataFrame]) -> None:
    text_of = dict(zip(articles["article_id"], articles["text"]))
    mentions = records.get("mentions")
    if mentions is not None and not mentions.empty:
        for m in mentions.itertuples():
            text = text_of[m.article_id]
            assert 0 <= m.start < m.end <= len(text) and text[m.start : m.end] == m.text
    for table in ("events", "relationships"):
        frame = records.get(table)
        if frame is not None and not frame.empty:
            for r in frame.itertuples():
                text = text_of[r.article_id]
                assert 0 <= r.start < r.end <= len(text) and r.sentence in text


def ids(records: dict[str, pd.DataFrame]) -> dict[str, list]:
    keys = {"mentions": "mention_id", "events": "event_id", "relationships": "relation_id", "entity_observations": "entity_id"}
    return {t: sorted(records[t][k]) for t, k in keys.items() if t in records and k in records[t]}


@PROPERTY
@given(st.lists(texts, min_size=1, max_size=4))
def test_the_extractors_never_raise_keep_offsets_inside_and_ids_stable(bodies):
    articles = articles_frame(bodies)
    resources = Resources.load()
    records, quarantine = extract_batch(articles, resources, "run")
    assert quarantine == [], [q["detail"] for q in quarantine]
    check_records(articles, records)
    assert ids(extract_batch(articles, resources, "run")[0]) == ids(records)
    assert set(OUTPUT_TABLES) <= set(records)


@PROPERTY
@given(st.lists(st.one_of(newsy, st.integers(0, 99).map(article)), min_size=1, max_size=4))
def test_the_property_harness_sees_records(monkeypatch_module, bodies):
    """The same checks on the stand-in extractors, which do find records: the harness can fail."""
    articles = articles_frame(bodies)
    records, quarantine = extract_batch(articles, Resources.load(), "run")
    assert quarantine == []
    if any("Officials of" in body for body in bodies):  # a generated article: its meeting is an event
        assert len(records["events"]) and len(records["mentions"])
    check_records(articles, records)
    assert ids(extract_batch(articles, Resources.load(), "run")[0]) == ids(records)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        from coop_pipeline import entities, events, relations

        mp.setattr(entities, "extract", fake_entities)
        mp.setattr(relations, "extract", fake_relations)
        mp.setattr(events, "extract", fake_events)
        yield mp

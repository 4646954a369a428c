"""Ingest stage: discovery, decoding, cleaning and page metadata, on fixtures written for the tests."""

from __future__ import annotations

import codecs
import datetime as dt
import os
from pathlib import Path

import pytest

from coop_pipeline.config import Settings
from coop_pipeline.errors import IngestError
from coop_pipeline.ingest import (
    IngestRules,
    decode,
    detect_language,
    discover,
    html_to_text,
    ingest_batch,
    ingest_file,
    make_article_id,
)
from coop_pipeline.text import normalize, sentence_spans

RULES = IngestRules.load()
SETTINGS = Settings()


def ingest_text(tmp_path: Path, text: str | bytes, name: str = "a.txt") -> dict:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return ingest_file(tmp_path, name, SETTINGS, RULES)


# -- the two seeds ------------------------------------------------------------------------------
def test_seed_kazakhstan_today_header_title_and_boilerplate(seeds_raw):
    row = ingest_file(seeds_raw, "000_e2e4173cf047b6d0.txt", SETTINGS, RULES)
    assert row["published_date"] == dt.date(2025, 9, 5)
    assert row["date_source"] == "header"
    assert row["source_name"] == "Kazakhstan Today"
    assert row["title"] == "Prospects for Kazakhstan-Kenya Cooperation in Space Sphere Discussed in Nairobi"
    assert row["text"].count(row["title"]) == 1  # printed twice on the page, kept once
    for furniture in ("Images | gov.kz", "may not be reproduced", "Copyright of materials", "Found an error",
                      "Ctrl + Enter", "relevant news", "Most viewed", "72666"):
        assert furniture not in row["text"]
    assert row["text"].rstrip().endswith("cooperation in the space sector.")


def test_seed_kazinform_date_prefix_and_dateline(seeds_raw):
    row = ingest_file(seeds_raw, "002_ab846ab5c136d731.txt", SETTINGS, RULES)
    assert row["published_date"] == dt.date(2017, 9, 11)
    assert row["source_name"] == "Kazinform"
    assert row["dateline"] == "Astana"
    assert row["text"].startswith("ASTANA. KAZINFORM Kazakh Defense")  # the "date 2017-09-11" stamp is metadata
    assert "Most viewed" not in row["text"]


# -- date formats -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, date, source",
    [
        ("views_header.txt", dt.date(2024, 3, 12), "header"),  # 12.03.2024, 09:15 1042
        ("stamped_byline.txt", dt.date(2024, 7, 4), "header"),  # (Xinhua) 10:41, July 04, 2024
        ("published_line.txt", dt.date(2019, 1, 2), "header"),  # By: | Published: January 2, 2019 7:24 PM
        ("oreanda.txt", dt.date(2014, 9, 8), "dateline"),  # OREANDA-NEWS. September 08, 2014.
        ("russian_stamp.txt", dt.date(2015, 9, 4), "header"),  # 04 сентября 2015 19:49
        ("tass_style.txt", None, "none"),  # MOSCOW, April 20. — no year anywhere
    ],
)
def test_publication_date_formats(tmp_path, fixture_text, name, date, source):
    row = ingest_text(tmp_path, fixture_text(name))
    assert row["published_date"] == date
    assert row["date_source"] == source


def test_dateline_and_publisher_from_agency_marks(tmp_path, fixture_text):
    tass = ingest_text(tmp_path, fixture_text("tass_style.txt"), "t.txt")
    assert (tass["dateline"], tass["source_name"]) == ("Moscow", "TASS")
    xinhua = ingest_text(tmp_path, fixture_text("stamped_byline.txt"), "x.txt")
    assert (xinhua["dateline"], xinhua["source_name"]) == ("Astana", "Xinhua")
    assert xinhua["title"] == "China and Kazakhstan to study shared use of spaceports"
    assert "Home>>" not in xinhua["text"]


def test_boilerplate_and_tail_sections_removed(tmp_path, fixture_text):
    row = ingest_text(tmp_path, fixture_text("views_header.txt"))
    assert row["source_name"] == "Kazakhstan Today"
    assert "Kazakhstan launches a new satellite" not in row["text"]  # after "relevant news"
    assert "Images | gov.kz" not in row["text"]
    assert row["text"].count("discuss satellite data sharing") == 2  # title once + body once


# -- encodings ----------------------------------------------------------------------------------
ARTICLE = "Kazakhstan and France signed an agreement on space cooperation in Astana on Monday, the ministry said."


@pytest.mark.parametrize(
    "data, encoding",
    [
        (ARTICLE.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + ARTICLE.encode("utf-8"), "utf-8-sig"),
        (ARTICLE.encode("utf-16"), "utf-16"),  # with BOM
        (codecs.BOM_UTF16_BE + ARTICLE.encode("utf-16-be"), "utf-16"),
    ],
)
def test_decode_unicode_encodings(data, encoding):
    text, used = decode(data)
    assert text.lstrip("\ufeff") == ARTICLE
    assert used == encoding


def test_decode_legacy_cp1251():
    text = "Казахстан и Франция подписали соглашение о сотрудничестве в космической отрасли. " * 3
    decoded, used = decode(text.encode("cp1251"))
    assert decoded == text
    assert used.replace("_", "-").lower() in {"cp1251", "windows-1251"}


def test_decode_latin1_accents():
    text = "Le ministre a rencontré la délégation française à Astana pour évoquer la coopération spatiale. " * 2
    decoded, _ = decode(text.encode("cp1252"))
    assert decoded == text


@pytest.mark.parametrize(
    "data, reason",
    [(b"", "empty"), (b"  \n\t ", "empty"), (b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "binary"), (b"PK\x03\x04rest", "binary"), (b"abc\x00def" * 20, "binary")],
)
def test_decode_rejects_with_reason(data, reason):
    with pytest.raises(IngestError) as err:
        decode(data)
    assert err.value.reason == reason


def test_normalize_unifies_spacing_and_line_endings():
    assert normalize("A\u00a0B\r\nC\u200bD\rE\u2009F") == "A B\nCD\nE F"
    assert normalize("Cafe\u0301") == "Café"  # NFC


# -- HTML ---------------------------------------------------------------------------------------
def test_html_page_becomes_text(tmp_path, fixture_text):
    text, title = html_to_text(fixture_text("page.html"))
    assert title == "Kazakhstan & France widen space cooperation"
    assert "not text" not in text and "color: red" not in text
    row = ingest_text(tmp_path, fixture_text("page.html"), "page.html")
    assert row["title"] == "Kazakhstan & France widen space cooperation"
    assert row["published_date"] == dt.date(2017, 9, 11)
    assert row["dateline"] == "Astana"
    assert "continue the talks next year." in row["text"]


# -- identity, discovery, batches --------------------------------------------------------------
def test_article_id_ignores_whitespace_and_case():
    assert make_article_id("Kazakhstan  met\nKenya.") == make_article_id("kazakhstan met kenya.")
    assert make_article_id("Kazakhstan met Kenya.") != make_article_id("Kazakhstan met France.")


def test_discover_recurses_and_ignores_links_out(tmp_path):
    raw = tmp_path / "raw"
    (raw / "sub dir").mkdir(parents=True)
    (raw / "a.txt").write_text(ARTICLE)
    (raw / "sub dir" / "ü b.html").write_text("<p>" + ARTICLE + "</p>")
    (raw / "notes.md").write_text("ignored")
    outside = tmp_path / "secret.txt"
    outside.write_text(ARTICLE)
    os.symlink(outside, raw / "link.txt")
    os.symlink(raw / "a.txt", raw / "inside-link.txt")
    # A link out of raw/ is listed (not followed), so that ingest reports it instead of dropping it.
    assert discover(raw) == ["a.txt", "inside-link.txt", "link.txt", "sub dir/ü b.html"]
    with pytest.raises(IngestError) as err:
        ingest_file(raw, "link.txt", Settings(), IngestRules.load())
    assert err.value.reason == "outside_raw"


def test_batch_records_duplicates_and_quarantine(tmp_path):
    (tmp_path / "one.txt").write_text(ARTICLE)
    (tmp_path / "copy.txt").write_text(ARTICLE.upper() + "\n")
    (tmp_path / "short.txt").write_text("Too short.")
    (tmp_path / "img.txt").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 100)
    articles, quarantine = ingest_batch(tmp_path, ["copy.txt", "img.txt", "one.txt", "short.txt"], SETTINGS, RULES, "run-1")
    assert len(articles) == 1
    assert articles.iloc[0]["source_path"] == "copy.txt"
    assert articles.iloc[0]["duplicate_paths"] == ["one.txt"]
    assert dict(zip(quarantine["source_path"], quarantine["reason"])) == {"img.txt": "binary", "short.txt": "not_article"}
    assert quarantine["detail"].str.len().gt(10).all()


def test_language_detection():
    stop = RULES.stopwords
    assert detect_language(ARTICLE, stop) == "en"
    assert detect_language("Le ministre a rencontré la délégation et les experts pour la coopération dans le domaine spatial.", stop) == "fr"
    assert detect_language("Министр встретился с делегацией и обсудил сотрудничество в космической отрасли для страны.", stop) == "ru"


@pytest.mark.parametrize(
    "text, language",
    [
        ("“The minister,” she said, “met the delegation — and the experts — in Astana.”", "en"),  # typographic punctuation only
        ("The ministry of Türkiye and the Zürich office said that the plan is on track for the launch.", "en"),
        ("Le ministre a rencontré la délégation, «une étape», et les experts pour la coopération.", "fr"),
        ("Η Ελλάδα και το Καζακστάν υπέγραψαν συμφωνία για τη διαστημική συνεργασία (the agreement).", "el"),
        ("Қазақстан және Кения ғарыш саласындағы ынтымақтастықты талқылады және бұл маңызды.", "kk"),
        ("東京。日本とカザフスタンは宇宙協力に関する協定に署名しました。", "ja"),
    ],
)
def test_language_from_script_and_words_whatever_the_punctuation(text, language):
    assert detect_language(text, RULES.stopwords) == language


def test_normalize_is_the_same_for_ascii_and_other_text():
    ascii_text = "a\tb\f\fc\x0bd\x00e\r\nf\rg"
    assert normalize(ascii_text) == "a b cde\nf\ng"
    assert normalize(ascii_text + "é") == "a b cde\nf\ngé"  # the general path gives the same text


def test_unsupported_language_is_quarantined_not_mangled(tmp_path):
    with pytest.raises(IngestError) as err:
        ingest_text(tmp_path, "Der Minister traf die Delegation und sprach mit den Experten über die Zusammenarbeit im Weltraum und die Satelliten.")
    assert err.value.reason == "unsupported_language"
    assert "German (de)" in err.value.detail


def test_sentence_spans_respect_abbreviations_and_initials():
    text = "Director General B. Kipkosgey met Dr. Smith in the U.S. capital. They agreed.\nNew line here"
    spans = [text[s:e] for s, e in sentence_spans(text)]
    assert spans == ["Director General B. Kipkosgey met Dr. Smith in the U.S. capital.", "They agreed.", "New line here"]

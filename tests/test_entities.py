"""Entity and relation stages: offsets, stable ids, dictionary validation, merge."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coop_pipeline import entities, gazetteer, name_context, names, relations, resources as resources_module
from coop_pipeline.config import Settings
from coop_pipeline.errors import DictionaryError
from coop_pipeline.gazetteer import EntityResources
from coop_pipeline.pipeline import run_local

# Text made of the pieces that drive extraction (names, titles, demonyms, connectors, punctuation) and
# arbitrary Unicode, so the property tests reach the interesting paths, not only random noise.
PIECES = st.sampled_from(
    [
        "Kazakhstan", "Kazakh", "Minister", "Director General", "of the", " and ", ", ", ". ", "\n", "(ISRO)",
        "Kenya Space Agency", "Hillary B. Kipkosgey", "KazSat-3", "Soyuz MS-17", "KADEX-2018", "’s", "'s",
        "the Kazakh side", "Ministry of Digital Development, Innovation and Aerospace Industry", "Baikonur cosmodrome",
        "Astana", "Nur-Sultan", "JSC \"NC Kazakhstan Gharysh Sapary\"", "Dr", "President", " ", "—", "$US",
    ]
)
TEXT = st.lists(st.one_of(PIECES, st.text(max_size=12)), max_size=40).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT)
def test_mention_offsets_slice_the_text(text, resources, article):
    frame = article(text)
    found = entities.extract(frame, resources)
    for row in found["mentions"].itertuples(index=False):
        assert 0 <= row.start < row.end <= len(text)
        assert text[row.start : row.end] == row.text
        assert row.mention_id == f"{row.article_id}:{row.start}-{row.end}"
    assert found["mentions"]["mention_id"].is_unique
    rels = relations.extract(frame, found, resources)
    for row in rels.itertuples(index=False):
        assert 0 <= row.start <= row.end <= len(text)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT)
def test_same_text_same_ids(text, resources, article):
    first = entities.extract(article(text), resources)
    second = entities.extract(article(text), resources)
    assert first["mentions"].equals(second["mentions"])
    assert list(first["entity_observations"]["entity_id"]) == list(second["entity_observations"]["entity_id"])


SEED_A = """Kazakhstan and Kenya discuss space cooperation

Barlybay Sadykov, Ambassador of Kazakhstan to Kenya, met with the Director General of the Kenya Space Agency Hillary B. Kipkosgey in Nairobi. Director General B. Kipkosgey thanked the Kazakh side and said the agencies would sign a memorandum on satellite data.
"""
SEED_B = """Kazakh Defense and Aerospace Industry Minister Beibut Atamkulov has met in Astana with Jean-Baptiste Lemoyne, Secretary of State at the Ministry of Europe and Foreign Affairs of France. KazEOSat-1 and KazEOSat-2 were built together with French partners.
"""


def _ids(out) -> dict[str, list[str]]:
    return {
        "entities": sorted(pd.read_parquet(out / "entities")["entity_id"]),
        "mentions": sorted(pd.read_parquet(out / "mentions")["mention_id"]),
        "relationships": sorted(pd.read_parquet(out / "relationships")["relation_id"]),
    }


def test_ids_stable_across_runs_and_output_dirs(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.txt").write_text(SEED_A, encoding="utf-8")
    (raw / "b.txt").write_text(SEED_B, encoding="utf-8")
    run_local(Settings(raw_dir=raw, out_dir=tmp_path / "out1", full=True))
    first = _ids(tmp_path / "out1")
    run_local(Settings(raw_dir=raw, out_dir=tmp_path / "out1", full=True))
    run_local(Settings(raw_dir=raw, out_dir=tmp_path / "out2"))
    assert _ids(tmp_path / "out1") == first
    assert _ids(tmp_path / "out2") == first
    assert "person:barlybay-sadykov" in first["entities"]
    assert "org:kenya-space-agency" in first["entities"]
    assert "country:KAZ" in first["entities"]
    held = pd.read_parquet(tmp_path / "out1" / "relationships")
    positions = set(zip(held["subject_entity_id"], held["predicate"], held["qualifier"]))
    assert ("person:barlybay-sadykov", "HOLDS_POSITION", "Ambassador") in positions
    assert ("person:beibut-atamkulov", "HOLDS_POSITION", "Minister") in positions


def test_merge_folds_observations_across_articles(resources, article):
    a = entities.extract(article(SEED_A, article_id="art-000000000000000a"), resources)
    b = entities.extract(article(SEED_B + " Kazakhstan and Kenya.", article_id="art-000000000000000b"), resources)
    obs = pd.concat([a["entity_observations"], b["entity_observations"]], ignore_index=True)
    mentions = pd.concat([a["mentions"], b["mentions"]], ignore_index=True)
    merged = entities.merge(obs, mentions).set_index("entity_id")
    kaz = merged.loc["country:KAZ"]
    assert kaz["n_articles"] == 2 and kaz["country_iso3"] == "KAZ"
    assert "Kazakh" in kaz["aliases"]
    assert merged.loc["person:hillary-b-kipkosgey", "country_iso3"] == "KEN"
    assert "B. Kipkosgey" in merged.loc["person:hillary-b-kipkosgey", "aliases"]


# -- dictionary validation: a bad line names its file and line ------------------------------------

def _with_data(monkeypatch, tmp_path, name: str, content: str) -> None:
    """Serve `name` from tmp_path, every other data file from the package."""
    original = resources_module.data_path
    (tmp_path / name).write_text(content, encoding="utf-8")
    monkeypatch.setattr(resources_module, "data_path", lambda n: tmp_path / n if n == name else original(n))


@pytest.mark.parametrize(
    "content, message",
    [
        ("# provenance\nentity_id,name,aliases,type,country_iso3\norg:x,X Agency,,ORGANIZATION,XXX\n", "organizations.csv:3: unknown country code 'XXX'"),
        ("entity_id,name,aliases,type,country_iso3\norg:x,X Agency,,AGENCY,KAZ\n", "organizations.csv:2: type 'AGENCY'"),
        ("entity_id,name,aliases,type,country_iso3\nX Agency,X Agency,,ORGANIZATION,KAZ\n", "organizations.csv:2: bad entity_id"),
        ("entity_id,name,aliases,type,country_iso3\norg:x,X Agency,,ORGANIZATION,KAZ\norg:y,Y Agency,X Agency,ORGANIZATION,KAZ\n", "organizations.csv:3: form 'X Agency' already listed on line 2"),
        ("entity_id,name,aliases,type,country_iso3\norg:x,X Agency,ORGANIZATION,KAZ\n", "organizations.csv:2: expected 5 fields"),
    ],
)
def test_bad_organization_line_is_reported(monkeypatch, tmp_path, content, message):
    _with_data(monkeypatch, tmp_path, "organizations.csv", content)
    with pytest.raises(DictionaryError, match=message.replace("(", r"\(")):
        EntityResources.load()


def test_bad_place_coordinate_is_reported(monkeypatch, tmp_path):
    _with_data(monkeypatch, tmp_path, "places.csv", "name,aliases,kind,country_iso3,latitude,longitude\nAstana,,city,KAZ,95.0,71.4\n")
    with pytest.raises(DictionaryError, match=r"places.csv:2: latitude out of range: '95.0'"):
        EntityResources.load()


def test_bad_title_kind_is_reported(monkeypatch, tmp_path):
    _with_data(monkeypatch, tmp_path, "titles.csv", "title,head,kind\nMinister,Minister,office\nEnvoy,Ambassador,rank\n")
    with pytest.raises(DictionaryError, match=r"titles.csv:3: kind 'rank'"):
        EntityResources.load()


def test_resources_are_immutable(resources):
    with pytest.raises(TypeError):
        resources.entities.forms["Atlantis"] = None
    with pytest.raises(AttributeError):
        resources.entities.max_form_words = 1


def _words_before_by_search(window: str) -> str | None:
    m = names._WORDS_BEFORE.search(window)
    return m.group(1) if m else None


@settings(max_examples=300, deadline=None)
@given(text=TEXT)
def test_words_before_matched_backwards_as_the_search_finds_them(text):
    # The words before a name are matched on the reversed window (faster); they must be the search's.
    for pos in range(len(text) + 1):
        window = text[max(0, pos - 80) : pos]
        assert name_context._words_before(window) == _words_before_by_search(window)


def test_words_before_on_the_seed_articles():
    for path in sorted(Path("raw").glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        for pos in range(len(text) + 1):
            window = text[max(0, pos - 80) : pos]
            assert name_context._words_before(window) == _words_before_by_search(window)
    assert name_context._words_before("In Astana, Deputy Prime Minister ") == "Deputy Prime Minister "  # a comma ends them
    assert name_context._words_before("the agency said Deputy Prime Minister ") == "said Deputy Prime Minister "  # four at most
    assert name_context._words_before("the Minister \n") == "the Minister "  # `$` before a final line break


def test_headline_positions(resources):
    text = "European Rocket Launches Kazakh Satellite Into Orbit\nThe satellite, built in France, was launched on Monday by the agency."
    a = entities.analyse(text, resources.entities)
    assert a.headlines == [(0, text.index("\n"))]
    assert a._in_headline(0) and a._in_headline(text.index("Orbit"))
    assert not a._in_headline(text.index("\n")) and not a._in_headline(text.index("France"))


def test_form_lengths_by_prefix_of_the_first_word():
    lengths = gazetteer.lengths_by_prefix({"Kazakh Space Agency": 1, "Kazcosmos": 2, "Kazakhstan": 3, "U.S. Embassy": 4, "Kazakhstan’s Ministry": 5})
    assert lengths == {"Kazakh": {19}, "Kazcosmos": {9}, "Kazakhstan": {10, 21}, "Kazakhstan’s": {21}, "U": {12}, "U.S": {12}, "U.S.": {12}}


def test_dictionary_indexes_are_built_with_the_dictionaries(resources):
    forms = resources.entities.forms
    assert resources.entities.form_lengths == gazetteer.lengths_by_prefix(forms)
    # each dictionary form is found through the index, as the longest key from its first word
    res = resources.entities
    for form in forms:
        a = entities.analyse(form, res)
        toks = a.toks
        if not toks or toks[0].start or toks[0].text not in res.first_words or any(t.poss for t in toks):
            continue
        spans = [form[: toks[k - 1].end] for k in range(min(len(toks), res.max_form_words), 0, -1)]
        longest = next(((len(spans) - n, forms[span]) for n, span in enumerate(spans) if span in forms), None)
        assert a._form_at(toks, 0, forms, res.form_lengths, res.max_form_words) == longest, form

"""The events stage's dictionaries load, compile and reject bad lines with file and line."""

from __future__ import annotations

import pytest

from coop_pipeline.errors import DictionaryError
from coop_pipeline.event_lexicon import CUES_FILE, SECTORS_FILE, TRIGGERS_FILE, EventResources, WordStarts, group_index
from coop_pipeline.resources import read_csv
from coop_pipeline.vocabulary import vocabulary


def _rows():
    return (list(read_csv(TRIGGERS_FILE, ("event_type", "pattern", "kind", "priority", "confidence"))),
            list(read_csv(CUES_FILE, ("cue", "scope", "pattern"))),
            list(read_csv(SECTORS_FILE, ("sector", "pattern"))))


def test_every_event_type_has_triggers_with_codes():
    res = EventResources.load()
    assert {t.event_type for t in res.triggers} == set(vocabulary()["event_type"])
    assert all(t.plover_type for t in res.triggers)
    assert {t.cameo_code for t in res.triggers if t.event_type == "SIGN_AGREEMENT"} == {"057"}


@pytest.mark.parametrize("text, expected", [
    ("the ministers held talks", "CONSULT"), ("they signed a memorandum", "SIGN_AGREEMENT"),
    ("Kazakhstan inked a roadmap", "SIGN_AGREEMENT"), ("the parties agreed to", "AGREE"),
    ("he expressed his readiness", "EXPRESS_INTENT"), ("she invited French firms", "INVITE"),
    ("he highly appreciated", "PRAISE"), ("the satellite lifted off", "LAUNCH"),
    ("the agency was founded", "ESTABLISH"), ("the delegation toured the plant", "VISIT"),
    ("transfer of space technology", "COOPERATE"), ("the complex is being built", "COOPERATE"),
    ("ended with the signing of a Protocol", "SIGN_AGREEMENT"), ("has given his approval to the decree", "SIGN_AGREEMENT"),
    ("a memorandum of understanding has been concluded", "SIGN_AGREEMENT"), ("it also concluded deals with", "SIGN_AGREEMENT"),
    ("delegates will talk over joint projects", "CONSULT"),
])
def test_triggers_find_their_type(text, expected):
    res = EventResources.load()
    found = [res.triggers[group_index(m)].event_type for m in res.trigger_pattern.finditer(text)]
    assert expected in found, found


@pytest.mark.parametrize("text, not_expected", [
    ("a $52 million trip to the International Space Station", "VISIT"),  # a space flight, not a visit
    ("the tender would probably be decided this month", "AGREE"),  # a passive decision is no agreement
    ("the European launch consortium sent the satellite", "LAUNCH"),  # a launch company is not a launch
])
def test_triggers_do_not_fire_on_look_alikes(text, not_expected):
    res = EventResources.load()
    found = [res.triggers[group_index(m)].event_type for m in res.trigger_pattern.finditer(text)]
    assert not_expected not in found, found


def test_scans_of_one_text_share_its_word_starts():
    """A cue after punctuation begins at the space (", to be held"); windows cut the text where they end."""
    res = EventResources.load()
    text = "The forum, to be held in Astana, will sign a roadmap; the satellite is planned"
    words = WordStarts(text)
    after = [(m.start(), m.group()) for m in res.after_cues.finditer(words)]
    assert after == [(text.index(" to be"), " to be held"), (text.index("is planned"), "is planned")]
    assert [m.span() for m in res.trigger_pattern.finditer(words)] == [m.span() for m in res.trigger_pattern.finditer(text)]
    sign = text.index("sign")
    assert [m.group() for m in res.trigger_pattern.finditer(words, 0, sign + 2)] == ["to be held"]  # "will si" is no trigger
    assert [m.group() for m in res.trigger_pattern.finditer(words, 0, sign + 4)] == ["to be held", "will sign"]


@pytest.mark.parametrize("year", ["2019", "20\u0661\u0669"])  # Arabic-Indic digits: \d matches them too
def test_a_pattern_opening_with_digits_is_tried_where_they_stand(year):
    """"(?:19|20)\\d\\d agreement" is tried only at words beginning like it: the beginnings of \\d are
    every decimal digit the regex itself accepts, not only 0-9, so no year it reads is skipped."""
    res = EventResources.load()
    text = f"They recalled the {year} agreement on satellites"
    found = [(m.start(), res.triggers[group_index(m)].event_type) for m in res.trigger_pattern.finditer(text)]
    assert (text.index(year), "SIGN_AGREEMENT") in found, found


def test_unknown_event_type_names_file_and_line():
    triggers, cues, sectors = _rows()
    triggers[3] = {**triggers[3], "event_type": "HUG"}
    with pytest.raises(DictionaryError, match=rf"{TRIGGERS_FILE}:{triggers[3]['_line']}: unknown event_type 'HUG'"):
        EventResources.from_rows(triggers, cues, sectors)


@pytest.mark.parametrize("field, value, message", [
    ("pattern", "(met", "bad regex"), ("pattern", "(met|meets)", "capturing"), ("pattern", "x?", "empty string"),
    ("pattern", "\"met", "must begin with a letter"),
    ("governs", "maybe", "not a status"), ("confidence", "1.5", "outside"), ("cameo_code", "4x", "CAMEO"),
])
def test_bad_trigger_lines_are_rejected(field, value, message):
    triggers, cues, sectors = _rows()
    triggers[0] = {**triggers[0], field: value}
    with pytest.raises(DictionaryError, match=message) as err:
        EventResources.from_rows(triggers, cues, sectors)
    assert err.value.path == TRIGGERS_FILE and err.value.line == int(triggers[0]["_line"])


def test_bad_cue_is_rejected():
    triggers, cues, sectors = _rows()
    cues[0] = {**cues[0], "cue": "perhaps"}
    with pytest.raises(DictionaryError, match=rf"{CUES_FILE}:\d+: cue 'perhaps'"):
        EventResources.from_rows(triggers, cues, sectors)


def test_resources_are_immutable():
    res = EventResources.load()
    with pytest.raises(AttributeError):
        res.triggers = ()

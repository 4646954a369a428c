"""Clusters: the same meeting told by two outlets is one real event; two meetings are two."""

from __future__ import annotations

import pandas as pd

from coop_pipeline import events
from coop_pipeline.event_lexicon import EventResources
from events_fixtures import article_frame, entity_frames

PEOPLE = [
    {"name": "Beibut Atamkulov", "type": "PERSON", "country": "KAZ", "aliases": ["Atamkulov"]},
    {"name": "Jean-Baptiste Lemoyne", "type": "PERSON", "country": "FRA", "aliases": ["Lemoyne"]},
    {"name": "Dmitry Rogozin", "type": "PERSON", "country": "RUS"},
    {"name": "Astana", "type": "LOCATION", "country": "KAZ"},
    {"name": "Moscow", "type": "LOCATION", "country": "RUS"},
]
ARTICLES = {
    # two outlets, one meeting (published a day apart, worded differently)
    "art-00000000000000a1": ("Kazakh minister Beibut Atamkulov met with Jean-Baptiste Lemoyne in Astana on Monday.", "2017-09-12"),
    "art-00000000000000a2": ("Jean-Baptiste Lemoyne held talks with Beibut Atamkulov in Astana. Lemoyne thanked his hosts.", "2017-09-11"),
    # the same pair meeting again three months later: another event
    "art-00000000000000a3": ("Beibut Atamkulov met with Jean-Baptiste Lemoyne in Astana.", "2017-12-20"),
    # another pair on the same day: another event
    "art-00000000000000a4": ("Beibut Atamkulov met with Dmitry Rogozin in Moscow.", "2017-09-11"),
}


def _events() -> pd.DataFrame:
    res = EventResources.load()
    frames = []
    for article_id, (text, published) in ARTICLES.items():
        out = events.extract(article_frame(article_id, text, published), entity_frames(article_id, text, PEOPLE), res)
        frames.append(out["events"])
    return pd.concat(frames, ignore_index=True)


def _consult_cluster(clustered: pd.DataFrame, article_id: str) -> str:
    rows = clustered[(clustered["article_id"] == article_id) & (clustered["event_type"] == "CONSULT")]
    assert len(rows) == 1, rows[["event_type", "trigger"]]
    return rows["cluster_id"].iloc[0]


def test_same_meeting_in_two_articles_shares_a_cluster_and_others_do_not():
    clustered = events.assign_clusters(_events())
    one, two = _consult_cluster(clustered, "art-00000000000000a1"), _consult_cluster(clustered, "art-00000000000000a2")
    later, other_pair = _consult_cluster(clustered, "art-00000000000000a3"), _consult_cluster(clustered, "art-00000000000000a4")
    assert one == two
    assert len({one, later, other_pair}) == 3
    # a thank-you is not the meeting itself
    praise = clustered[clustered["event_type"] == "PRAISE"]["cluster_id"]
    assert not praise.empty and one not in set(praise)


def test_clusters_are_deterministic_whatever_the_row_order():
    table = _events()
    first = events.assign_clusters(table).set_index("event_id")["cluster_id"]
    shuffled = events.assign_clusters(table.sample(frac=1, random_state=7).reset_index(drop=True)).set_index("event_id")["cluster_id"]
    assert first.sort_index().equals(shuffled.sort_index())


def test_a_later_report_joins_a_cluster_without_renaming_it():
    table = _events()
    before = _consult_cluster(events.assign_clusters(table), "art-00000000000000a1")
    first = table[(table["article_id"] == "art-00000000000000a2") & (table["event_type"] == "CONSULT")]
    later = first.assign(article_id="art-00000000000000a5", event_id="ev-0000000000000000",  # sorts first
                         event_date=first["event_date"] + pd.Timedelta(days=2))
    clustered = events.assign_clusters(pd.concat([table, later], ignore_index=True))
    assert _consult_cluster(clustered, "art-00000000000000a5") == before
    assert _consult_cluster(clustered, "art-00000000000000a1") == before


def test_different_places_on_the_same_day_are_different_events():
    table = _events()
    table.loc[table["article_id"] == "art-00000000000000a2", "location_entity_id"] = "location:moscow"
    clustered = events.assign_clusters(table)
    assert _consult_cluster(clustered, "art-00000000000000a1") != _consult_cluster(clustered, "art-00000000000000a2")


def test_empty_table_keeps_its_columns():
    empty = events.extract(article_frame("art-0000000000000000", "", None), {"mentions": pd.DataFrame(), "entity_observations": pd.DataFrame()}, EventResources.load())["events"]
    assert list(events.assign_clusters(empty).columns) == list(empty.columns)


def test_two_rows_of_one_article_stay_two_events_even_through_another_article():
    table = _events()
    consult = table[table["event_type"] == "CONSULT"]
    one = consult[consult["article_id"] == "art-00000000000000a1"]
    # a second, separate meeting of the same pair on the same day, as the extractor left it in a1
    twin = one.assign(event_id="evt-ffffffffffffffff", start=one["start"] + 1)
    clustered = events.assign_clusters(pd.concat([table, twin], ignore_index=True))
    by_id = clustered.set_index("event_id")["cluster_id"]
    assert by_id["evt-ffffffffffffffff"] != by_id[one["event_id"].iloc[0]]
    assert clustered.groupby("article_id")["cluster_id"].nunique().equals(clustered.groupby("article_id")["event_id"].nunique())

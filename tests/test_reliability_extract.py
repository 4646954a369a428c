"""One bad article or one extractor exception never fails a run: it is quarantined with its stage."""

from __future__ import annotations

import pandas as pd

from coop_pipeline import entities, events
from coop_pipeline.config import Settings
from coop_pipeline.pipeline import run_local
from reliability_helpers import assert_whole, fake_entities, fake_events, install_fake_extractors, write_articles


def test_an_extractor_exception_quarantines_one_article_and_the_run_goes_on(tmp_path, monkeypatch):
    install_fake_extractors(monkeypatch.setattr)

    def flaky(articles, resources):
        if articles["text"].str.contains("report 7\n").any():
            raise ValueError("cannot parse this one")
        return fake_entities(articles, resources)

    monkeypatch.setattr(entities, "extract", flaky)
    write_articles(tmp_path / "raw", 12)
    result = run_local(Settings(raw_dir=tmp_path / "raw", out_dir=tmp_path / "out", batch_size=5))
    tables = assert_whole(tmp_path / "out")
    quarantine = tables["quarantine"]
    assert len(quarantine) == 1 and result["quarantined"] == 1
    row = quarantine.iloc[0]
    assert (row["source_path"], row["stage"], row["reason"]) == ("a00007.txt", "extract", "extractor_error")
    assert row["detail"].startswith("ValueError: cannot parse this one")
    # The article stays (it was read fine); only its records are missing; everyone else's are there.
    bad = tables["articles"].loc[tables["articles"]["source_path"] == "a00007.txt", "article_id"].item()
    assert len(tables["articles"]) == 12
    assert bad not in set(tables["mentions"]["article_id"]) and tables["mentions"]["article_id"].nunique() == 11
    assert len(tables["events"]) == 11
    assert pd.read_parquet(tmp_path / "out" / "runs")["status"].tolist() == ["completed"]


def test_records_that_break_the_schema_are_quarantined_not_written(tmp_path, monkeypatch):
    install_fake_extractors(monkeypatch.setattr)

    def sloppy(articles, found, resources):
        out = fake_events(articles, found, resources)
        out["events"].loc[0, "status"] = "rumoured"  # not a status of the contract
        out["events"].loc[1, "start"] = -5
        return out

    monkeypatch.setattr(events, "extract", sloppy)
    write_articles(tmp_path / "raw", 6)
    run_local(Settings(raw_dir=tmp_path / "raw", out_dir=tmp_path / "out"))
    tables = assert_whole(tmp_path / "out")
    quarantine = tables["quarantine"]
    schema = quarantine[quarantine["reason"] == "schema:events"]
    assert len(schema) == 2 and any("rumoured" in d for d in schema["detail"]) and any("-5" in d for d in schema["detail"])
    # The participants of the two rejected events go too (quarantined), or they would point nowhere.
    orphans = quarantine[quarantine["reason"] == "orphan:event_participants"]
    assert len(orphans) == 4 and all("is not in events" in d for d in orphans["detail"])
    assert len(quarantine) == 6 and len(tables["events"]) == 4 and len(tables["event_participants"]) == 8


def test_every_article_failing_still_completes_the_run(tmp_path, monkeypatch):
    install_fake_extractors(monkeypatch.setattr)

    def broken(articles, resources):
        raise RuntimeError("extractor bug")

    monkeypatch.setattr(entities, "extract", broken)
    write_articles(tmp_path / "raw", 4)
    result = run_local(Settings(raw_dir=tmp_path / "raw", out_dir=tmp_path / "out"))
    assert result["quarantined"] == 4 and result["rows"]["articles"] == 4 and result["rows"]["mentions"] == 0
    assert set(pd.read_parquet(tmp_path / "out" / "quarantine")["reason"]) == {"extractor_error"}


def test_an_extractor_returning_garbage_is_an_extractor_error(tmp_path, monkeypatch):
    install_fake_extractors(monkeypatch.setattr)
    monkeypatch.setattr(events, "extract", lambda articles, found, resources: {"events": [], "event_participants": None})
    write_articles(tmp_path / "raw", 3)
    result = run_local(Settings(raw_dir=tmp_path / "raw", out_dir=tmp_path / "out"))
    quarantine = pd.read_parquet(tmp_path / "out" / "quarantine")
    assert result["quarantined"] == 3 and set(quarantine["reason"]) == {"extractor_error"}
    assert all("not a DataFrame" in d for d in quarantine["detail"])

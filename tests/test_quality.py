"""Quality checks on tables written to a real Store: healthy data passes, each breakage is caught."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from coop_pipeline import quality
from coop_pipeline.config import Settings
from coop_pipeline.errors import ConfigError
from coop_pipeline.store import Store
from quality_fixtures import healthy_tables, last_run_id, with_warnings, write_tables

TODAY = dt.date(2026, 11, 21)


def report_of(tmp_path, tables, **kwargs):
    write_tables(tmp_path / "out", tables)
    settings = Settings(raw_dir=tmp_path, out_dir=tmp_path / "out")
    return quality.build_report(settings, last_run_id(tables), today=TODAY, **kwargs)


def check(report, name):
    return next(c for c in report["checks"] if c["name"] == name)


def failed_names(report, severity=None):
    return {c["name"] for c in quality.failing(report, severity)}


def test_healthy_filled_tables_pass_every_check(tmp_path):
    report = report_of(tmp_path, healthy_tables())
    assert failed_names(report) == set()
    assert report["verdict"] == "passed"
    assert report["summary"] == {"checks": len(report["checks"]), "passed": len(report["checks"]), "critical_failed": 0, "warnings_failed": 0}
    assert report["row_counts"]["articles"] == 30 and report["row_counts"]["events"] > 30
    names = {c["name"] for c in report["checks"]}
    assert {"schema.events", "duplicates.mentions", "references.event_participants", "empty_output.articles", "quarantine_rate"} <= names
    assert check(report, "quarantine_rate")["value"] == pytest.approx(3 / 33, abs=1e-4)


def test_every_critical_check_named_in_the_issue_exists_with_its_severity(tmp_path):
    report = report_of(tmp_path, healthy_tables())
    severity = {c["name"]: c["severity"] for c in report["checks"]}
    for table in ("articles", "entities", "mentions", "events", "event_participants", "relationships", "quarantine", "runs"):
        assert severity[f"schema.{table}"] == "critical"
    for table in ("articles", "entities", "mentions", "events", "relationships", "runs", "event_participants"):
        assert severity[f"duplicates.{table}"] == "critical"
    for name in ("null_rate.actor_country", "null_rate.event_date", "null_rate.publisher", "null_rate.title", "articles_without_entities",
                 "articles_without_events", "drift.events_per_article", "drift.event_type_mix", "dates.future", "dates.before_1957"):
        assert severity[name] == "warning"


def test_duplicate_event_id_fails(tmp_path):
    tables = healthy_tables()
    dup = tables["events"]["event_id"].iloc[0]
    tables["events"].loc[tables["events"].index[1], "event_id"] = dup
    report = report_of(tmp_path, tables)
    c = check(report, "duplicates.events")
    assert not c["passed"] and c["severity"] == "critical" and c["value"] == 1 and c["sample_ids"] == [dup]
    assert report["verdict"] == "failed"


def test_duplicates_across_parquet_parts_are_found(tmp_path):
    """Each part is valid on its own; only the table as a whole has the duplicate article."""
    tables = healthy_tables()
    store = write_tables(tmp_path / "out", tables)
    again = tables["articles"].iloc[[3]]
    store.stage("extra", "articles", "extra", again)
    store.commit("extra")
    report = quality.build_report(Settings(raw_dir=tmp_path, out_dir=tmp_path / "out"), today=TODAY)
    assert failed_names(report, "critical") == {"duplicates.articles"}
    assert check(report, "duplicates.articles")["sample_ids"] == [again["article_id"].iloc[0]]


def test_duplicate_mentions_across_parts_are_found_by_the_part_by_part_check(tmp_path):
    tables = healthy_tables()
    store = write_tables(tmp_path / "out", tables)
    again = tables["mentions"].iloc[[4, 7]]
    store.stage("extra", "mentions", "extra", again)
    store.commit("extra")
    report = quality.build_report(Settings(raw_dir=tmp_path, out_dir=tmp_path / "out"), today=TODAY)
    c = check(report, "duplicates.mentions")
    assert failed_names(report, "critical") == {"duplicates.mentions"}
    assert c["value"] == 2 and c["message"] == "2 duplicated mention_id over 4 rows"
    assert set(c["sample_ids"]) == set(again["mention_id"])
    assert check(report, "references.mentions")["message"] == f"{len(tables['mentions']) + 2} rows, every reference resolves"


def test_orphan_mention_fails(tmp_path):
    tables = healthy_tables()
    mentions = tables["mentions"]
    mentions.loc[mentions.index[0], "entity_id"] = "org:ghost-agency"
    mentions.loc[mentions.index[1], "article_id"] = "art-0000000000000000"
    report = report_of(tmp_path, tables)
    c = check(report, "references.mentions")
    assert not c["passed"] and c["value"] == 2
    assert set(c["sample_ids"]) == set(mentions["mention_id"].iloc[:2])
    assert "org:ghost-agency" in c["message"] and "entity_id not in entities" in c["message"]
    assert failed_names(report, "critical") == {"references.mentions"}


@pytest.mark.parametrize(
    ("table", "column", "check_name"),
    [
        ("events", "location_entity_id", "references.events"),
        ("events", "source_entity_id", "references.events"),
        ("event_participants", "event_id", "references.event_participants"),
        ("relationships", "object_entity_id", "references.relationships"),
    ],
)
def test_broken_references_fail(tmp_path, table, column, check_name):
    tables = healthy_tables()
    tables[table].loc[tables[table].index[0], column] = "org:missing" if "entity" in column else "evt-missing"
    report = report_of(tmp_path, tables)
    assert failed_names(report, "critical") == {check_name}
    assert column in check(report, check_name)["message"]


def test_empty_articles_for_non_empty_input_fails(tmp_path):
    tables = healthy_tables()
    for table in ("articles", "mentions", "events", "event_participants", "relationships"):
        tables[table] = tables[table].iloc[0:0]
    report = report_of(tmp_path, tables)
    c = check(report, "empty_output.articles")
    assert not c["passed"] and c["severity"] == "critical" and "33 raw files but no article" in c["message"]
    assert report["verdict"] == "failed"


def test_empty_extraction_is_critical_from_enough_articles(tmp_path):
    tables = healthy_tables()
    tables["events"] = tables["events"].iloc[0:0]
    tables["event_participants"] = tables["event_participants"].iloc[0:0]
    report = report_of(tmp_path, tables)
    c = check(report, "empty_output.extraction")
    assert not c["passed"] and c["severity"] == "critical" and c["sample_ids"] == ["events"]
    lenient = quality.build_report(Settings(raw_dir=tmp_path, out_dir=tmp_path / "out"), today=TODAY,
                                   thresholds=quality.QualityThresholds(min_articles_for_empty_output=100))
    c = check(lenient, "empty_output.extraction")
    assert not c["passed"] and c["severity"] == "warning" and "critical from 100 articles" in c["message"]
    assert lenient["verdict"] == "warnings"


def test_schema_violation_left_in_a_table_fails(tmp_path):
    tables = healthy_tables()
    bad = tables["events"]["event_id"].iloc[2]
    tables["events"].loc[tables["events"].index[2], "event_type"] = "TELEPORT"
    tables["entities"].loc[tables["entities"].index[0], "latitude"] = 123.0
    report = report_of(tmp_path, tables)
    c = check(report, "schema.events")
    assert not c["passed"] and c["value"] == 1 and c["sample_ids"] == [bad] and "event_type" in c["message"]
    assert not check(report, "schema.entities")["passed"]
    assert failed_names(report, "critical") == {"schema.events", "schema.entities"}


def test_schema_check_validates_a_part_once_and_an_edited_part_again(tmp_path, monkeypatch):
    tables = healthy_tables()
    first = report_of(tmp_path, tables)
    model, validate = quality.MODELS["events"], quality.MODELS["events"].validate
    validated = []
    monkeypatch.setattr(model, "validate", lambda df, **kw: (validated.append(len(df)), validate(df, **kw))[1])
    settings = Settings(raw_dir=tmp_path, out_dir=tmp_path / "out")
    again = quality.build_report(settings, last_run_id(tables), today=TODAY)
    assert validated == [] and check(again, "schema.events") == check(first, "schema.events")
    assert check(again, "schema.events")["message"] == f"{len(tables['events'])} rows valid"

    part = Store(tmp_path / "out").parts("events")[0]  # edited in place, behind the pipeline's back
    events = pd.read_parquet(part)
    events.loc[0, "event_type"] = "TELEPORT"
    events.to_parquet(part, index=False)
    edited = quality.build_report(settings, last_run_id(tables), today=TODAY)
    assert validated == [len(events)]
    assert not check(edited, "schema.events")["passed"] and check(edited, "schema.events")["value"] == 1


def test_high_quarantine_rate_fails_and_the_threshold_is_configurable(tmp_path):
    tables = healthy_tables()
    more = pd.DataFrame([{"source_path": f"junk-{i}.bin.txt", "content_sha256": "0" * 64, "size": 1, "outcome": "quarantined", "article_id": None} for i in range(40)])
    tables["files"] = pd.concat([tables["files"], more], ignore_index=True)
    report = report_of(tmp_path, tables)
    c = check(report, "quarantine_rate")
    assert not c["passed"] and c["severity"] == "critical" and c["value"] == pytest.approx(43 / 73, abs=1e-4) and c["threshold"] == 0.5
    assert c["n_offending"] == 43 and len(c["sample_ids"]) == 5
    lenient = quality.build_report(Settings(raw_dir=tmp_path, out_dir=tmp_path / "out", quarantine_rate_threshold=0.7), today=TODAY)
    assert check(lenient, "quarantine_rate")["passed"] and lenient["verdict"] == "passed"


def test_few_files_make_the_quarantine_rate_a_warning(tmp_path):
    tables = healthy_tables(n_articles=2)
    report = report_of(tmp_path, tables)  # 3 of 5 files quarantined, but only 5 files
    c = check(report, "quarantine_rate")
    assert not c["passed"] and c["severity"] == "warning" and report["verdict"] == "warnings"


def test_warnings_on_nulls_and_dates_but_not_on_planned_future_events(tmp_path):
    tables = with_warnings(healthy_tables())
    events = tables["events"]
    events.loc[events.index[5], ["event_date", "status"]] = [dt.date(2027, 3, 1), "planned"]
    report = report_of(tmp_path, tables)
    assert report["verdict"] == "warnings"
    assert failed_names(report) == {"null_rate.title", "dates.future", "dates.before_1957"}
    assert check(report, "null_rate.title")["value"] == pytest.approx(5 / 30, abs=1e-4)
    assert check(report, "dates.future")["sample_ids"] == [events["event_id"].iloc[0]]
    assert check(report, "dates.before_1957")["sample_ids"] == [events["event_id"].iloc[1]]


def test_actor_country_nulls_and_articles_without_events_warn(tmp_path):
    tables = healthy_tables()
    tables["events"]["source_country"] = None
    keep = tables["events"]["article_id"].isin(tables["articles"]["article_id"].iloc[:10])
    tables["events"] = tables["events"][keep]
    tables["event_participants"] = tables["event_participants"][tables["event_participants"]["event_id"].isin(tables["events"]["event_id"])]
    report = report_of(tmp_path, tables)
    assert failed_names(report) == {"null_rate.actor_country", "articles_without_events"}
    assert check(report, "articles_without_events")["value"] == pytest.approx(20 / 30, abs=1e-4)


def test_drift_against_the_previous_report(tmp_path):
    tables = healthy_tables()
    first = report_of(tmp_path, tables)
    quality.write_report(tmp_path / "out", first)
    shifted = healthy_tables()
    shifted["events"] = shifted["events"].iloc[::2].copy()
    shifted["events"]["event_type"] = "LAUNCH"
    shifted["event_participants"] = shifted["event_participants"][shifted["event_participants"]["event_id"].isin(shifted["events"]["event_id"])]
    later = shifted["runs"].iloc[[-1]].assign(run_id="20261120T110000Z-bbbbbb", started_at=pd.Timestamp("2026-11-20T11:00:00Z"))
    shifted["runs"] = pd.concat([shifted["runs"], later], ignore_index=True)
    report = report_of(tmp_path, shifted)
    assert report["previous_run_id"] == first["run_id"]
    drop, mix = check(report, "drift.events_per_article"), check(report, "drift.event_type_mix")
    assert not drop["passed"] and drop["value"] == pytest.approx(0.5, abs=0.05)
    assert not mix["passed"] and mix["value"] > 0.5 and "LAUNCH" in mix["sample_ids"]
    assert failed_names(report, "critical") == set()


def test_json_report_structure_and_files(tmp_path):
    tables = healthy_tables()
    write_tables(tmp_path / "out", tables)
    run_id = last_run_id(tables)
    report = quality.run_quality(Settings(raw_dir=tmp_path, out_dir=tmp_path / "out"), run_id)
    folder = tmp_path / "out" / "quality"
    assert sorted(p.name for p in folder.iterdir()) == sorted([f"{run_id}.json", f"{run_id}.html", "latest.json", "latest.html"])
    saved = json.loads((folder / "latest.json").read_text())
    assert saved == json.loads((folder / f"{run_id}.json").read_text()) == json.loads(json.dumps(report, default=str))
    assert {"report_version", "run_id", "generated_at", "verdict", "summary", "inputs", "row_counts", "checks", "stats", "thresholds"} <= set(saved)
    assert saved["run_id"] == run_id
    assert saved["inputs"]["files_seen"] == 33 and saved["inputs"]["status"] == "completed"
    store = Store(tmp_path / "out")
    assert saved["row_counts"] == {**{t: store.count(t) for t in ("articles", "entities", "mentions", "events", "event_participants", "relationships", "quarantine", "runs")}, "files": 33}
    for c in saved["checks"]:
        assert set(c) == {"name", "category", "severity", "passed", "value", "threshold", "message", "sample_ids", "n_offending", "comparison"}
        assert c["severity"] in ("critical", "warning") and isinstance(c["sample_ids"], list)
    stats = saved["stats"]
    assert sum(r["n"] for r in stats["events_by_type_status"]) == len(tables["events"])
    assert sum(stats["entities_by_type"].values()) == len(tables["entities"])
    assert [r["run_id"] for r in stats["trend"]] == list(tables["runs"]["run_id"])
    assert not list(folder.glob(".*tmp"))  # atomic writes leave no temporary files


def test_earlier_reports_are_kept_and_pruned(tmp_path, monkeypatch):
    out = tmp_path / "out"
    Store(out).recover()
    monkeypatch.setattr(quality, "KEEP_REPORTS", 2)
    settings = Settings(raw_dir=tmp_path, out_dir=out)
    ids = ["20261120T100000Z-aaaaaa", "20261120T110000Z-bbbbbb", "20261120T120000Z-cccccc"]
    for run_id in ids:
        quality.write_report(out, quality.build_report(settings, run_id, today=TODAY))
    kept = sorted(p.stem for p in (out / "quality").glob("*.json"))
    assert kept == sorted([*ids[1:], "latest"])
    assert quality.previous_report(out, ids[2])["run_id"] == ids[1]
    assert quality.load_latest(out)["run_id"] == ids[2]


def test_fresh_empty_output_passes_and_renders(tmp_path):
    out = tmp_path / "out"
    Store(out).recover()
    report = quality.run_quality(Settings(raw_dir=tmp_path, out_dir=out))
    assert report["verdict"] == "passed" and report["run_id"] == "no-run"
    page = (out / "quality" / "latest.html").read_text()
    assert page.count("<svg") == 8 and "no data yet" in page


def test_html_is_self_contained(tmp_path):
    report = report_of(tmp_path, with_warnings(healthy_tables()))
    quality.write_report(tmp_path / "out", report)
    page = (tmp_path / "out" / "quality" / "latest.html").read_text()
    assert page.startswith("<!doctype html>") and 'data-verdict="warnings"' in page
    without_ns = page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    for remote in ("http://", "https://", "<script", "<link", "@import", "url(", "<img"):
        assert remote not in without_ns, remote
    assert page.count("<svg") == 8
    assert "null_rate.title" in page and "dates.before_1957" in page


def test_thresholds_are_validated_and_follow_settings():
    with pytest.raises(ConfigError, match="null_title"):
        quality.QualityThresholds(null_title=1.5)
    with pytest.raises(ConfigError, match="sample_size"):
        quality.QualityThresholds(sample_size=-1)
    t = quality.QualityThresholds.from_settings(Settings(quarantine_rate_threshold=0.2), null_title=0.5)
    assert (t.quarantine_rate, t.null_title) == (0.2, 0.5)


def test_summaries_for_cli_and_prefect(tmp_path):
    tables = healthy_tables()
    tables["mentions"].loc[tables["mentions"].index[0], "entity_id"] = "org:ghost"
    report = report_of(tmp_path, tables)
    lines = quality.summary_lines(report)
    assert lines[0].startswith(f"data quality of run {report['run_id']}: FAILED") and "1 critical failed" in lines[0]
    assert any("references.mentions" in line and line.strip().startswith("critical") for line in lines[1:])
    reason = quality.failure_reason(report)
    assert "\n" not in reason and "references.mentions" in reason
    md = quality.markdown(report)
    assert md.startswith("# ❌ Data quality: failed") and "| critical | references.mentions |" in md
    rows = quality.check_rows(report)
    assert len(rows) == len(report["checks"]) and {r["status"] for r in rows} == {"pass", "FAIL"}

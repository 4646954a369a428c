"""The quality report in a real run: `coop-pipeline report`, run_local, and the Prefect flow."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from coop_pipeline import cli, quality
from coop_pipeline.config import Settings
from coop_pipeline.pipeline import run_local
from quality_fixtures import healthy_tables, write_tables

ARTICLE = """05.09.2025, 18:40 72666

Prospects for Kazakhstan-Kenya Cooperation in Space Discussed in Nairobi

Barlybay Sadykov, Ambassador of Kazakhstan to Kenya, met with the Director General of the Kenya Space Agency
Hillary B. Kipkosgey in Nairobi, the press service of the Kazakh Foreign Ministry reports.

The parties discussed the prospects for bilateral cooperation in the space sector and agreed to organize
expert meetings in the format of a video conference. The Kenyan side expressed its interest in cooperating
with Kazakhstan in processing satellite data.
"""


def write_raw(folder, good: int = 1, bad: int = 0):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(good):
        (folder / f"good-{i}.txt").write_text(ARTICLE.replace("Nairobi", f"Nairobi ({i})"), encoding="utf-8")
    for i in range(bad):
        (folder / f"empty-{i}.txt").write_bytes(b"")
    return folder


def test_report_command_without_a_report_says_so(tmp_path, capsys):
    assert cli.main(["report", "--out", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert "no data-quality report" in err and "coop-pipeline run --out" in err and len(err.strip().splitlines()) == 1


def test_report_command_exit_codes_follow_the_verdict(tmp_path, capsys):
    tables = healthy_tables()
    write_tables(tmp_path / "ok", tables)
    quality.run_quality(Settings(raw_dir=tmp_path, out_dir=tmp_path / "ok"))
    assert cli.main(["report", "--out", str(tmp_path / "ok")]) == 0
    assert "PASSED" in capsys.readouterr().out

    tables["mentions"].loc[tables["mentions"].index[0], "entity_id"] = "org:ghost"
    write_tables(tmp_path / "bad", tables)
    quality.run_quality(Settings(raw_dir=tmp_path, out_dir=tmp_path / "bad"))
    assert cli.main(["report", "--out", str(tmp_path / "bad")]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out.splitlines()[0] and "critical references.mentions" in out


def test_report_command_into_a_closed_pipe_exits_quietly(tmp_path):
    write_tables(tmp_path / "ok", healthy_tables())
    quality.run_quality(Settings(raw_dir=tmp_path, out_dir=tmp_path / "ok"))
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written, as `| head -0` would leave it
    try:
        done = subprocess.run([sys.executable, "-m", "coop_pipeline", "report", "--out", str(tmp_path / "ok")],
                              stdout=write, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert done.returncode == 141 and done.stderr == ""


def test_run_local_writes_the_report_of_its_run(tmp_path):
    raw = write_raw(tmp_path / "raw", good=2)
    result = run_local(Settings(raw_dir=raw, out_dir=tmp_path / "out"))
    report = quality.load_latest(tmp_path / "out")
    assert report["run_id"] == result["run_id"] and result["quality"] == report["verdict"]
    assert report["row_counts"]["articles"] == 2 and report["inputs"]["files_seen"] == 2
    assert not quality.failing(report, "critical")


def test_run_local_reports_lost_input_as_critical(tmp_path):
    raw = write_raw(tmp_path / "raw", good=0, bad=2)
    result = run_local(Settings(raw_dir=raw, out_dir=tmp_path / "out"))
    assert result["quality"] == "failed"
    report = quality.load_latest(tmp_path / "out")
    assert {c["name"] for c in quality.failing(report, "critical")} == {"empty_output.articles"}
    assert report["stats"]["quarantine_reasons"] and sum(report["stats"]["quarantine_reasons"].values()) == 2


@pytest.mark.slow
def test_flow_fails_on_critical_checks_and_publishes_artifacts(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    good = write_raw(tmp_path / "good", good=2)
    assert cli.main(["run", "--raw", str(good), "--out", str(tmp_path / "out-good")]) == 0
    out = capsys.readouterr().out
    assert "data quality: " in out and quality.load_latest(tmp_path / "out-good")["verdict"] in ("passed", "warnings")

    bad = write_raw(tmp_path / "bad", good=0, bad=2)
    assert cli.main(["run", "--raw", str(bad), "--out", str(tmp_path / "out-bad")]) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert captured.err.strip().splitlines()[-1].startswith("coop-pipeline run: critical data-quality checks failed: empty_output.articles")
    report = quality.load_latest(tmp_path / "out-bad")  # the report was written before the flow failed
    assert report["verdict"] == "failed"

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey, FlowRunFilter, FlowRunFilterId

    from coop_flows.main import coop_pipeline_flow
    from coop_pipeline.store import Store

    state = coop_pipeline_flow(raw_dir=str(bad), out_dir=str(tmp_path / "out-bad"), full=True, return_state=True)
    assert state.is_failed() and "empty_output.articles" in state.message
    flow_run_id = Store(tmp_path / "out-bad").read("runs").sort_values("started_at")["flow_run_id"].iloc[-1]
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(flow_run_id).state.is_failed()
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["coop-quality-verdict", "coop-quality-checks"])),
                                          flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    by_key = {a.key: a for a in artifacts}
    assert set(by_key) == {"coop-quality-verdict", "coop-quality-checks"}
    assert "Data quality: failed" in by_key["coop-quality-verdict"].data
    rows = by_key["coop-quality-checks"].data
    rows = json.loads(rows) if isinstance(rows, str) else rows
    assert any(r["check"] == "empty_output.articles" and r["status"] == "FAIL" for r in rows)

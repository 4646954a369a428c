"""Hostile raw files: every one ends in `articles` or in `quarantine` with a reason; none stops a run."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pandas as pd
import pytest

from coop_pipeline.config import Settings
from coop_pipeline.decoding import decode
from coop_pipeline.errors import IngestError
from coop_pipeline.ingest import IngestRules, discover, ingest_batch
from coop_pipeline.pipeline import run_local
from coop_pipeline.store import Store
from reliability_helpers import article, assert_whole, install_fake_extractors, outcomes, write_hostile


@pytest.fixture(scope="module")
def rules() -> IngestRules:
    return IngestRules.load()


def check_hostile_outcome(out: Path, expect: dict) -> None:
    got = outcomes(out)
    assert got == expect
    quarantine = pd.read_parquet(out / "quarantine").set_index("source_path")
    articles = pd.read_parquet(out / "articles").set_index("source_path")
    detail = quarantine["detail"]
    assert "Russian (ru)" in detail["russian.txt"]
    assert "Chinese (zh)" in detail["chinese.txt"]
    assert "not read" in detail["huge.txt"] and "52,428,800 bytes" in detail["huge.txt"]
    assert "outside the raw folder" in detail["outside-link.txt"]
    assert "named pipe" in detail["pipe.txt"]
    assert all(len(d) < 200 and "Traceback" not in d for d in detail), "details are one readable line"
    # Legacy encodings are decoded, not mangled.
    assert "«Роскосмос» and Казкосмос" in articles.loc["nested/deeper/cp1251.txt", "text"]
    assert "Zürich and Bogotá" in articles.loc["latin1.txt", "text"]
    assert "“Officials” — naïve ones —" in articles.loc["cp1252.txt", "text"]
    assert articles.loc["utf16-nobom.txt", "encoding"] == "utf-16-le"
    page = articles.loc["page.html"]
    assert page["title"].startswith("Kazakhstan and") and "SCRIPT TEXT" not in page["text"] and "color: red" not in page["text"]
    # The internal `files` table accounts for every listed path too (incremental runs rely on it).
    files = Store(out).read("files").set_index("source_path")
    assert set(files.index) == set(expect)
    assert files.loc["huge.txt", "outcome"] == "quarantined" and files.loc["zz copy of good.txt", "outcome"] == "duplicate"


def test_hostile_folder_every_file_accounted_for(tmp_path, monkeypatch):
    install_fake_extractors(monkeypatch.setattr)
    expect = write_hostile(tmp_path / "raw", tmp_path / "outside")
    settings = Settings(raw_dir=tmp_path / "raw", out_dir=tmp_path / "out", batch_size=7)
    result = run_local(settings)
    check_hostile_outcome(tmp_path / "out", expect)
    assert result["quarantined"] == sum(1 for kind, _ in expect.values() if kind == "quarantine")
    tables = assert_whole(tmp_path / "out")
    assert len(tables["mentions"]) > 0 and len(tables["events"]) > 0
    # A second run over the same folder changes nothing and still reads every hostile file safely.
    run_local(settings)
    assert outcomes(tmp_path / "out") == expect
    assert list(pd.read_parquet(tmp_path / "out" / "runs")["status"]) == ["completed", "completed"]


@pytest.mark.slow
def test_hostile_folder_through_the_command_line(tmp_path):
    expect = write_hostile(tmp_path / "raw", tmp_path / "outside")
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    done = subprocess.run(
        [sys.executable, "-m", "coop_pipeline", "run", "--raw", str(tmp_path / "raw"), "--out", str(tmp_path / "out"), "--batch-size", "6",
         "--max-quarantine-rate", "0.9"],  # the folder is mostly hostile on purpose: the quality gate must not fail it
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "ERROR" not in done.stderr
    assert f"{sum(1 for kind, _ in expect.values() if kind == 'quarantine')} quarantined" in done.stdout
    check_hostile_outcome(tmp_path / "out", expect)
    assert_whole(tmp_path / "out")


def test_a_50_mb_file_is_never_read(tmp_path, rules):
    raw = tmp_path / "raw"
    raw.mkdir()
    with open(raw / "huge.txt", "wb") as fh:
        fh.write(article(1).encode() * 60_000)  # real bytes, about 55 MB
    tracemalloc.start()
    articles, quarantine = ingest_batch(raw, ["huge.txt"], Settings(), rules, "run")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert articles.empty and list(quarantine["reason"]) == ["oversized"]
    assert peak < 5_000_000, f"peak {peak:,} bytes while refusing a 55 MB file"


def test_the_size_cap_is_configurable(tmp_path, rules):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.txt").write_text(article(1))
    small = Settings(max_file_bytes=500)
    assert list(ingest_batch(raw, ["a.txt"], small, rules, "run")[1]["reason"]) == ["oversized"]
    assert len(ingest_batch(raw, ["a.txt"], Settings(), rules, "run")[0]) == 1


def test_discover_lists_links_out_but_does_not_walk_them(tmp_path):
    raw, outside = tmp_path / "raw", tmp_path / "outside"
    write_hostile(raw, outside)
    listed = discover(raw)
    assert "outside-folder" in listed and not any(p.startswith("outside-folder/") for p in listed)
    assert ".hidden.txt" not in listed and "notes.md" not in listed


ENGLISH = article(3)


@pytest.mark.parametrize(
    "data, encoding, fragment",
    [
        (("Zürich café Bogotá. " + ENGLISH).encode("latin-1"), "cp1252", "Zürich café Bogotá"),
        (("“Quoted” — dash… " + ENGLISH).encode("cp1252"), "cp1252", "“Quoted” — dash…"),
        (("Agency «Роскосмос» said. " + ENGLISH).encode("cp1251"), "cp1251", "«Роскосмос»"),
        (("Казахстан и Кения обсудили сотрудничество. " * 5).encode("cp1251"), "cp1251", "Казахстан и Кения"),
        (("Казахстан и Кения обсудили сотрудничество. " * 5).encode("koi8_r"), "koi8_r", "Казахстан и Кения"),
        (("Spotkanie w Łodzi i Gdańsku. " + ENGLISH).encode("cp1250"), "cp1250", "Łodzi i Gdańsku"),
        (ENGLISH.encode("utf-16"), "utf-16", "Officials"),
        (ENGLISH.encode("utf-16-le"), "utf-16-le", "Officials"),
        (ENGLISH.encode("utf-16-be"), "utf-16-be", "Officials"),
        (("Казахстан и Кения обсудили. " * 5).encode("utf-16-le"), "utf-16-le", "Казахстан"),
        (ENGLISH.encode("utf-32"), "utf-32", "Officials"),
        (b"<meta charset='windows-1251'>" + "Агентство сообщает. ".encode("cp1251") + ENGLISH.encode(), "windows-1251", "Агентство"),
    ],
)
def test_legacy_encodings_are_decoded(data, encoding, fragment):
    text, found = decode(data)
    assert found == encoding and fragment in text


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty"),
        (b" \r\n\t ", "empty"),
        (b"GIF89a" + bytes(300), "binary"),
        (b"\x1f\x8b\x08\x00" + bytes(300), "binary"),
        (b"%PDF-1.7\n" + bytes(300), "binary"),
        (b"text\x00with NUL", "binary"),
        (bytes(range(1, 32)) * 200, "binary"),
        (random.Random(3).randbytes(3000).translate(bytes(range(128, 256)) * 2), "undecodable"),  # high bytes only
        (b"\xef\xbb\xbf\xff\xfe broken", "undecodable"),
    ],
)
def test_what_is_not_text_is_refused_with_a_reason(data, reason):
    with pytest.raises(IngestError) as caught:
        decode(data)
    assert caught.value.reason == reason and caught.value.detail

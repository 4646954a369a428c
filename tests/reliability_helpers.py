"""Test helpers for the reliability tests: synthetic articles, a folder of hostile raw files, a small
deterministic stand-in for the extractors (so that every table gets rows to lose or duplicate), and
the checks that a store is whole.

The stand-in extractors find country names only; they exist so that crash tests can count mentions,
events, participants and relationships, whatever the real extractors do.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds

COUNTRIES = {"Kazakhstan": "KAZ", "Kenya": "KEN", "France": "FRA", "Russia": "RUS", "China": "CHN", "India": "IND"}
PEOPLE = ["Beibut Atamkulov", "Hillary Kipkosgey", "Jean Dupont", "Li Wei", "Anna Petrova", "Ravi Kumar"]
TOPICS = ["satellite communications", "remote sensing", "launch services", "space education", "ground stations"]


def article(i: int) -> str:
    """A distinct English article (about 900 characters) with a dated header and countries in it."""
    rnd = random.Random(i)
    a, b = rnd.sample(sorted(COUNTRIES), 2)
    who, topic = rnd.choice(PEOPLE), rnd.choice(TOPICS)
    day = 1 + i % 28
    return (
        f"{day:02d}.03.2024, 10:{i % 60:02d} {1000 + i}\n\n"
        f"{a} and {b} discuss cooperation in {topic}, report {i}\n\n"
        f"ASTANA. KAZINFORM - Officials of {a} met with a delegation of {b} on Monday to discuss {topic}, "
        f"the agency reports in its bulletin number {i}.\n\n"
        f"{who} said that the parties signed a memorandum on {topic} and agreed to hold expert meetings. "
        f"The sides noted that joint work in {topic} has grown since {2000 + i % 24}.\n\n"
        f"The delegation of {b} also visited the national space centre, where engineers from {a} presented "
        f"their projects and the plans for the next {2 + i % 7} years of cooperation between the two countries.\n"
    )


def write_articles(raw: Path, n: int, start: int = 0, prefix: str = "a") -> list[str]:
    raw.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(start, start + n):
        name = f"{prefix}{i:05d}.txt"
        (raw / name).write_text(article(i), encoding="utf-8")
        names.append(name)
    return names


# -- hostile input --------------------------------------------------------------------------------
RUSSIAN = (
    "Казахстан и Кения обсудили перспективы сотрудничества в космической отрасли. Делегация посетила "
    "национальный космический центр и встретилась с руководством агентства. Стороны договорились "
    "продолжить работу и провести встречи экспертов в формате видеоконференции.\n"
)
CHINESE = "哈萨克斯坦和肯尼亚讨论了航天领域的合作前景。双方同意继续在共同关心的问题上进行互动，并组织专家视频会议。" * 3


def write_hostile(raw: Path, outside: Path) -> dict[str, tuple[str, str | None]]:
    """Write one file of every hostile kind under `raw` (and targets under `outside`).

    Returns what each listed path must become: ("article", None), ("duplicate", None) or
    ("quarantine", reason). Paths are as the pipeline records them (relative, POSIX, UTF-8).
    """
    raw.mkdir(parents=True)
    outside.mkdir(parents=True)
    expect: dict[str, tuple[str, str | None]] = {}

    def put(name: str, data: bytes | str, outcome: tuple[str, str | None]) -> None:
        path = raw / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        expect[name] = outcome

    ok = ("article", None)
    put("good plain.txt", article(1), ok)  # a space in the name
    put("Астана — отчёт №2.txt", article(2), ok)  # non-ASCII name
    put("line\nbreak.txt", article(3), ok)  # a newline in the name
    (raw / os.fsdecode(b"caf\xe9 latin1-name.txt")).write_bytes(article(4).encode())  # not UTF-8
    expect["caf\\xe9 latin1-name.txt"] = ok
    put("nested/deeper/cp1251.txt", article(5).replace("Officials", "Officials of «Роскосмос» and Казкосмос").encode("cp1251"), ok)
    put("latin1.txt", article(6).replace("Officials", "Officials from Zürich and Bogotá").encode("latin-1"), ok)
    put("cp1252.txt", article(7).replace("Officials", "“Officials” — naïve ones —").encode("cp1252"), ok)
    put("utf16-bom.txt", article(8).encode("utf-16"), ok)
    put("utf16-nobom.txt", article(9).encode("utf-16-le"), ok)
    put("utf8-bom.txt", b"\xef\xbb\xbf" + article(10).encode(), ok)
    body = article(11).replace("\n\n", "</p>\n<p>")
    put("page.html", f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Space talks</title>"
        f"<script>var secret = 'SCRIPT TEXT';</script><style>p {{color: red}}</style></head>"
        f"<body><nav>Home | News</nav><article><p>{body}</p></article></body></html>", ok)
    put("zz copy of good.txt", article(1), ("duplicate", None))  # sorts after the original
    os.symlink("good plain.txt", raw / "link-inside.txt")  # a link within raw/ is followed
    expect["link-inside.txt"] = ("duplicate", None)

    put("empty.txt", b"", ("quarantine", "empty"))
    put("blank.txt", b"  \n\t\n   \r\n", ("quarantine", "empty"))
    put("furniture.html", "<html><body><nav>Home</nav><script>x()</script><p>All rights reserved.</p></body></html>", ("quarantine", "empty"))
    put("nul.txt", article(12).encode()[:300] + b"\x00\x01\x02" + b"\x00" * 50, ("quarantine", "binary"))
    put("image.txt", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, ("quarantine", "binary"))
    put("archive.html", b"PK\x03\x04" + bytes(range(256)) * 4, ("quarantine", "binary"))
    rnd = random.Random(7)
    put("garbage.txt", bytes(rnd.randrange(0x80, 0x100) for _ in range(5000)), ("quarantine", "undecodable"))
    put("short.txt", "Astana, 5 May. Talks held.\n", ("quarantine", "not_article"))
    put("list.txt", "\n".join(f"item {i}" for i in range(200)), ("quarantine", "not_article"))
    with open(raw / "huge.txt", "wb") as fh:  # 50 MB, sparse: costs no disk, must cost no memory
        fh.truncate(50 * 1024 * 1024)
    expect["huge.txt"] = ("quarantine", "oversized")
    # One line of 100,000 dates: the date finder once compared each with all before it (hours).
    put("stamps.txt", "12.03.2024 " * 100_000, ("quarantine", "unsupported_language"))
    put("russian.txt", RUSSIAN * 2, ("quarantine", "unsupported_language"))
    put("chinese.txt", CHINESE, ("quarantine", "unsupported_language"))

    (outside / "secret.txt").write_text(article(13))
    (outside / "folder").mkdir()
    (outside / "folder" / "more.txt").write_text(article(14))
    os.symlink(outside / "secret.txt", raw / "outside-link.txt")
    expect["outside-link.txt"] = ("quarantine", "outside_raw")
    os.symlink(outside / "folder", raw / "outside-folder")
    expect["outside-folder"] = ("quarantine", "outside_raw")
    os.symlink("no-such-file.txt", raw / "broken-link.txt")
    expect["broken-link.txt"] = ("quarantine", "broken_link")
    os.mkfifo(raw / "pipe.txt")  # opening it for reading would block the run forever
    expect["pipe.txt"] = ("quarantine", "not_a_file")

    # Not article files: never listed (documented), so not expected anywhere.
    (raw / ".hidden.txt").write_text(article(15))
    (raw / "notes.md").write_text(article(16))
    return expect


def outcomes(out: Path) -> dict[str, tuple[str, str | None]]:
    """What each raw file became, read from the public tables only (articles and quarantine)."""
    articles = pd.read_parquet(out / "articles")
    quarantine = pd.read_parquet(out / "quarantine")
    found: dict[str, tuple[str, str | None]] = {}
    for row in articles.itertuples():
        found[row.source_path] = ("article", None)
        for dup in row.duplicate_paths:
            found[dup] = ("duplicate", None)
    for row in quarantine.itertuples():
        if row.stage == "ingest":
            assert row.source_path not in found, f"{row.source_path!r} is both an article and quarantined"
            found[row.source_path] = ("quarantine", row.reason)
    return found


# -- stand-in extractors ------------------------------------------------------------------------
def fake_entities(articles: pd.DataFrame, resources: object) -> dict[str, pd.DataFrame]:
    from coop_pipeline.text import sentence_spans

    mentions, observations = [], []
    for art in articles.itertuples():
        spans = sentence_spans(art.text)
        seen = set()
        for name, iso in COUNTRIES.items():
            start = art.text.find(name)
            while start >= 0:
                end = start + len(name)
                index = next((k for k, (s, e) in enumerate(spans) if s <= start < e), 0)
                mentions.append({"mention_id": f"{art.article_id}:{start}-{end}", "article_id": art.article_id, "entity_id": f"country:{iso}",
                                 "text": name, "start": start, "end": end, "sentence_index": index})
                seen.add((name, iso))
                start = art.text.find(name, end)
        for name, iso in sorted(seen):
            observations.append({"article_id": art.article_id, "entity_id": f"country:{iso}", "name": name, "entity_type": "COUNTRY",
                                 "country_iso3": iso, "aliases": [], "latitude": None, "longitude": None})
    return {"mentions": pd.DataFrame(mentions), "entity_observations": pd.DataFrame(observations)}


def _sentences_with(articles: pd.DataFrame, word: str):
    from coop_pipeline.text import sentence_spans

    for art in articles.itertuples():
        for start, end in sentence_spans(art.text):
            sentence = art.text[start:end]
            if word in sentence:
                isos = [iso for name, iso in COUNTRIES.items() if name in sentence]
                yield art, start, end, sentence, isos


def fake_relations(articles: pd.DataFrame, found: dict, resources: object) -> pd.DataFrame:
    rows = []
    for art, start, end, sentence, isos in _sentences_with(articles, "met with"):
        if len(isos) >= 2:
            rows.append({"relation_id": f"rel-{art.article_id}-{start}", "article_id": art.article_id, "subject_entity_id": f"country:{isos[0]}",
                         "predicate": "COOPERATES_WITH", "object_entity_id": f"country:{isos[1]}", "qualifier": "space",
                         "sentence": sentence, "start": start, "end": end, "confidence": 0.5})
    return pd.DataFrame(rows)


def fake_events(articles: pd.DataFrame, found: dict, resources: object) -> dict[str, pd.DataFrame]:
    events, participants = [], []
    for art, start, end, sentence, isos in _sentences_with(articles, "met with"):
        event_id = f"evt-{art.article_id}-{start}"
        events.append({"event_id": event_id, "article_id": art.article_id, "event_type": "CONSULT", "cameo_code": "040", "plover_type": "CONSULT",
                       "cluster_id": event_id, "status": "occurred", "negated": False,
                       "source_entity_id": f"country:{isos[0]}" if isos else None, "target_entity_id": f"country:{isos[1]}" if len(isos) > 1 else None,
                       "source_country": isos[0] if isos else None, "target_country": isos[1] if len(isos) > 1 else None,
                       "location_entity_id": None, "event_date": None, "date_precision": None, "date_basis": None, "sectors": ["space"],
                       "trigger": "met with", "sentence": sentence, "start": start, "end": end, "confidence": 0.5})
        for role, iso in zip(("source", "target"), isos):
            participants.append({"event_id": event_id, "entity_id": f"country:{iso}", "role": role, "article_id": art.article_id})
    return {"events": pd.DataFrame(events), "event_participants": pd.DataFrame(participants)}


def install_fake_extractors(setattr_=setattr) -> None:
    """Replace the three extractors (pass monkeypatch.setattr to undo it after a test)."""
    from coop_pipeline import entities, events, relations

    setattr_(entities, "extract", fake_entities)
    setattr_(relations, "extract", fake_relations)
    setattr_(events, "extract", fake_events)


# -- checks ---------------------------------------------------------------------------------------
TABLES = ("articles", "entities", "mentions", "events", "event_participants", "relationships", "quarantine", "runs")
KEYS = {"articles": "article_id", "entities": "entity_id", "mentions": "mention_id", "events": "event_id", "relationships": "relation_id", "runs": "run_id"}


def read_all(out: Path) -> dict[str, pd.DataFrame]:
    """Every contract table, read by pandas and (the same rows) by pyarrow.dataset."""
    tables = {}
    for table in TABLES:
        frame = pd.read_parquet(out / table)
        assert ds.dataset(str(out / table), format="parquet").count_rows() == len(frame), table
        tables[table] = frame
    return tables


def assert_whole(out: Path) -> dict[str, pd.DataFrame]:
    """No duplicate ids, no orphan records, one article or quarantine row per raw file outcome."""
    t = read_all(out)
    for table, key in KEYS.items():
        dups = t[table][key][t[table][key].duplicated()]
        assert dups.empty, f"duplicate {key} in {table}: {list(dups)[:5]}"
    articles = set(t["articles"]["article_id"])
    for table in ("mentions", "events", "event_participants", "relationships"):
        orphans = set(t[table]["article_id"]) - articles
        assert not orphans, f"{table} rows point to missing articles: {sorted(orphans)[:5]}"
    entities = set(t["entities"]["entity_id"])
    assert set(t["mentions"]["entity_id"]) <= entities, "mentions point to missing entities"
    assert set(t["event_participants"]["event_id"]) <= set(t["events"]["event_id"]), "participants of missing events"
    paths = list(t["articles"]["source_path"]) + [p for dups in t["articles"]["duplicate_paths"] for p in dups]
    assert len(paths) == len(set(paths)), "a raw file is recorded for two articles"
    ingest_q = t["quarantine"][t["quarantine"]["stage"] == "ingest"]["source_path"]
    assert not ingest_q.duplicated().any(), "a raw file quarantined twice"
    return t


def fingerprint(out: Path) -> dict[str, list]:
    """The content of the data tables as sorted key tuples (times and run ids left out)."""
    t = read_all(out)
    cols = {
        "articles": ["article_id", "source_path", "text"],
        "entities": ["entity_id", "n_mentions", "n_articles"],
        "mentions": ["mention_id", "entity_id"],
        "events": ["event_id", "cluster_id"],
        "event_participants": ["event_id", "entity_id", "role"],
        "relationships": ["relation_id"],
        "quarantine": ["source_path", "stage", "reason"],
    }
    result = {table: sorted(map(tuple, t[table][c].astype(str).values.tolist())) for table, c in cols.items()}
    result["articles_dups"] = sorted((a, tuple(sorted(d))) for a, d in zip(t["articles"]["article_id"], t["articles"]["duplicate_paths"]))
    return result

"""Ingest stage: raw files in, article rows and quarantine rows out. No Prefect here.

`discover` lists the raw files, `ingest_batch` turns a batch of them into an `articles` frame and a
`quarantine` frame; every file ends in exactly one of the two (a second copy of an article becomes a
`duplicate_paths` entry of the first).
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import html
import os
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

from coop_pipeline import __version__
from coop_pipeline.config import Settings
from coop_pipeline.errors import IngestError
from coop_pipeline.page import PageParser
from coop_pipeline.resources import read_csv
from coop_pipeline.text import normalize, sentence_spans

BINARY_SIGNATURES = {
    b"\x89PNG": "PNG image",
    b"\xff\xd8\xff": "JPEG image",
    b"GIF8": "GIF image",
    b"%PDF": "PDF document",
    b"PK\x03\x04": "ZIP archive",
    b"\x1f\x8b": "gzip archive",
    b"7z\xbc\xaf": "7z archive",
    b"Rar!": "RAR archive",
    b"\x7fELF": "ELF executable",
    b"BZh": "bzip2 archive",
}
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True)
class RawFile:
    """A file found under the raw directory: its path relative to it, size and content hash."""

    path: str
    size: int
    sha256: str | None = None


class IngestRules:
    """Everything ingest needs that comes from data files; load once and pass around."""

    def __init__(self, page: PageParser, stopwords: dict[str, frozenset[str]]):
        self.page = page
        self.stopwords = stopwords

    @classmethod
    def load(cls) -> "IngestRules":
        stop = {r["language"]: frozenset(r["words"].split()) for r in read_csv("stopwords.csv", ("language", "words"))}
        return cls(PageParser.load(), stop)


# -- discovery -----------------------------------------------------------------------------------
def discover(raw_dir: Path, extensions: tuple[str, ...] = (".txt", ".html", ".htm")) -> list[str]:
    """Relative paths of the article files under `raw_dir`, sorted; links out of it are not followed."""
    root = Path(raw_dir).resolve()
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith(".") or not name.lower().endswith(extensions):
                continue
            path = Path(dirpath, name)
            if path.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(root) or not target.is_file():
                    continue
            found.append(path.relative_to(root).as_posix())
    return sorted(found)


# -- bytes to text -------------------------------------------------------------------------------
def read_bytes(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, refusing files over `max_bytes` before reading them."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise IngestError("oversized", f"{size:,} bytes is over the {max_bytes:,}-byte cap")
        with path.open("rb") as fh:
            return fh.read(max_bytes + 1)
    except OSError as exc:
        raise IngestError("unreadable", f"{type(exc).__name__}: {exc.strerror or exc}") from exc


def decode(data: bytes) -> tuple[str, str]:
    """Decode bytes to text: BOMs first, then UTF-8, then a detected legacy encoding."""
    if not data.strip():
        raise IngestError("empty", "the file is empty or whitespace only")
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError as exc:
                raise IngestError("undecodable", f"has a {encoding} byte-order mark but does not decode: {exc.reason}") from exc
    for signature, kind in BINARY_SIGNATURES.items():
        if data.startswith(signature):
            raise IngestError("binary", f"starts with the signature of a {kind}")
    if b"\x00" in data[:4096]:
        raise IngestError("binary", "contains NUL bytes")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    return decode_legacy(data)


def decode_legacy(data: bytes) -> tuple[str, str]:
    """Cyrillic single-byte pages (cp1251, KOI8-R) or Western ones (cp1252, Latin-1).

    In Cyrillic text most letters are high bytes; in Western text high bytes are scattered accents
    inside ASCII words. General detectors confuse cp1252 with cp1250/cp1257 on short French text,
    so the family is decided first and the detector only chooses inside it.
    """
    sample = data[:65536]
    high = sum(b >= 0xC0 for b in sample)
    ascii_letters = sum(65 <= b <= 90 or 97 <= b <= 122 for b in sample)
    if high > ascii_letters:
        from charset_normalizer import from_bytes

        best = from_bytes(sample, cp_isolation=["cp1251", "koi8_r"]).best()
        encoding = best.encoding if best is not None else "cp1251"
    else:
        encoding = "cp1252"
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError:
        if encoding == "cp1252":  # the five bytes cp1252 leaves undefined: Latin-1 maps every byte
            return data.decode("latin-1"), "latin-1"
        raise IngestError("undecodable", f"not UTF-8; looks like {encoding} but does not decode") from None


class _HTMLText(HTMLParser):
    """Collect the visible text of a page, one line per block element, plus its <title>."""

    BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "article", "section", "header", "footer", "blockquote", "figcaption", "time"}
    SKIP = {"script", "style", "noscript", "nav", "template", "svg", "head"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self._skip += 1
        if tag == "title":
            self._in_title = True
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP and self._skip:
            self._skip -= 1
        if tag == "title":
            self._in_title = False
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if self._in_title:
            self.title_parts.append(data)
        elif not self._skip:
            self.parts.append(data.replace("\n", " "))


def looks_like_html(text: str) -> bool:
    head = text[:2048].lower()
    return "<html" in head or "<!doctype html" in head or bool(re.search(r"<(?:body|p|div|article)\b", head))


def html_to_text(markup: str) -> tuple[str, str | None]:
    """Visible text of an HTML page (blocks become lines) and its <title>, entities unescaped."""
    parser = _HTMLText()
    parser.feed(markup)
    parser.close()
    title = html.unescape(" ".join("".join(parser.title_parts).split())) or None
    return "".join(parser.parts), title


# -- language ------------------------------------------------------------------------------------
def detect_language(text: str, stopwords: dict[str, frozenset[str]]) -> str:
    """ISO 639-1 code from the script and the most frequent function words; `und` if unknown."""
    sample = text[:5000]
    letters = [c for c in sample if c.isalpha()]
    if not letters:
        return "und"
    def share(lo: int, hi: int) -> float:
        return sum(lo <= ord(c) <= hi for c in letters) / len(letters)
    if share(0x0600, 0x06FF) > 0.3:
        return "ar"
    if share(0x4E00, 0x9FFF) > 0.3:
        return "zh"
    words = re.findall(r"[^\W\d_]+", sample.lower())
    scores = {lang: sum(w in stop for w in words) for lang, stop in stopwords.items()}
    if share(0x0400, 0x04FF) > 0.3:
        kk_letters = sum(c in "әғқңөұүһі" for c in sample.lower())
        return "kk" if kk_letters > 5 or scores.get("kk", 0) > scores.get("ru", 0) else "ru"
    best = max(scores, key=scores.get)
    return best if scores[best] >= 2 else "und"


# -- articles ------------------------------------------------------------------------------------
def make_article_id(text: str) -> str:
    """A stable id from the cleaned text: whitespace and case do not change it."""
    key = " ".join(text.split()).casefold()
    return "art-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def ingest_file(raw_dir: Path, rel_path: str, settings: Settings, rules: IngestRules) -> dict:
    """One article row from one raw file; raises IngestError with a reason code otherwise."""
    data = read_bytes(Path(raw_dir) / rel_path, settings.max_file_bytes)
    text, encoding = decode(data)
    hint_title = None
    if rel_path.lower().endswith((".html", ".htm")) or looks_like_html(text):
        text, hint_title = html_to_text(text)
    text = normalize(text)
    page = rules.page.parse(text, hint_title=hint_title)
    body = page.text
    if not body.strip():
        raise IngestError("empty", "nothing but page furniture is left after cleaning")
    spans = sentence_spans(body)
    if len(body) < settings.min_article_chars or not any(len(body[s:e].split()) >= 4 for s, e in spans):
        raise IngestError("not_article", f"only {len(body)} characters and {len(spans)} sentence(s) after cleaning")
    language = detect_language(body, rules.stopwords)
    if language not in settings.languages:
        raise IngestError("unsupported_language", f"detected language {language!r}; supported: {', '.join(settings.languages)}")
    return {
        "article_id": make_article_id(body),
        "source_path": rel_path,
        "source_name": page.source_name,
        "title": page.title,
        "published_date": page.published_date,
        "date_source": page.date_source,
        "dateline": page.dateline,
        "language": language,
        "encoding": encoding,
        "text": body,
        "n_chars": len(body),
        "n_sentences": len(spans),
        "content_sha256": hashlib.sha256(data).hexdigest(),
        "duplicate_paths": [],
        "pipeline_version": __version__,
    }


def ingest_batch(raw_dir: Path, paths: list[str], settings: Settings, rules: IngestRules, run_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Articles and quarantine rows for a batch of raw files; one bad file never stops the batch."""
    now = pd.Timestamp.now(tz="UTC")
    articles: dict[str, dict] = {}
    quarantine = []
    for rel_path in paths:
        try:
            row = ingest_file(raw_dir, rel_path, settings, rules)
        except IngestError as exc:
            quarantine.append(quarantine_row(rel_path, "ingest", exc.reason, exc.detail, run_id, now))
            continue
        except Exception as exc:  # an unexpected bug must not take the batch down: record it
            quarantine.append(quarantine_row(rel_path, "ingest", "error", f"{type(exc).__name__}: {exc}", run_id, now))
            continue
        first = articles.get(row["article_id"])
        if first is not None:
            first["duplicate_paths"].append(rel_path)
            continue
        row["ingested_at"] = now
        articles[row["article_id"]] = row
    return pd.DataFrame(list(articles.values())), pd.DataFrame(quarantine)


def quarantine_row(source_path: str, stage: str, reason: str, detail: str, run_id: str, at: dt.datetime | pd.Timestamp) -> dict:
    return {"source_path": source_path, "stage": stage, "reason": reason, "detail": detail[:2000], "run_id": run_id, "at": at}

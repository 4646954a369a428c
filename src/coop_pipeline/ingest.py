"""Ingest stage: raw files in, article rows and quarantine rows out. No Prefect here.

`discover` lists the raw files, `ingest_batch` turns a batch of them into an `articles` frame and a
`quarantine` frame; every file ends in exactly one of the two (a second copy of an article becomes a
`duplicate_paths` entry of the first).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import html
import os
import re
import stat
import traceback
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

from coop_pipeline import __version__
from coop_pipeline.config import Settings
from coop_pipeline.decoding import decode
from coop_pipeline.errors import IngestError
from coop_pipeline.page import PageParser
from coop_pipeline.resources import read_csv
from coop_pipeline.text import normalize, sentence_spans


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
# A file name that is not valid UTF-8 is listed with its odd bytes written as `\xNN` (Parquet strings
# are UTF-8); `raw_path` turns that form back into the real name.
_ESCAPED_BYTE = re.compile(r"\\x([89a-f][0-9a-f])")


def discover(raw_dir: Path, extensions: tuple[str, ...] = (".txt", ".html", ".htm")) -> list[str]:
    """Relative paths of the article files under `raw_dir`, sorted.

    Links are never followed out of the folder, but they are listed, so that ingest reports them
    (`outside_raw`) instead of dropping them silently: a file link of an article extension, and a
    folder link that leads outside (a folder link that stays inside is walked under its real path).
    Hidden files and folders (editor and system files) and other extensions are not articles.
    """
    root = Path(raw_dir).resolve()
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        walk = []
        for name in sorted(dirnames):
            if name.startswith("."):
                continue
            path = Path(dirpath, name)
            if path.is_symlink():
                target = _resolve(path)
                if target is None or not target.is_relative_to(root):
                    found.append(_listed(path.relative_to(root).as_posix()))
                continue
            walk.append(name)
        dirnames[:] = walk
        folder = Path(dirpath).relative_to(root).as_posix()  # once per folder, not per file
        prefix = "" if folder == "." else folder + "/"
        for name in filenames:
            if name.startswith(".") or not name.lower().endswith(extensions):
                continue
            found.append(_listed(prefix + name))
    return sorted(found)


def _listed(rel: str) -> str:
    """A path as it is recorded: UTF-8 always, undecodable bytes of the name as `\\xNN`."""
    try:
        rel.encode("utf-8")
        return rel
    except UnicodeEncodeError:
        return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def raw_path(raw_dir: Path, rel: str) -> Path:
    """The file behind a listed path, undoing the `\\xNN` escapes of a name that is not UTF-8."""
    path = Path(raw_dir) / rel
    if _ESCAPED_BYTE.search(rel) and not os.path.lexists(path):  # the name test first: no system call
        real = Path(raw_dir) / _ESCAPED_BYTE.sub(lambda m: chr(0xDC00 + int(m.group(1), 16)), rel)
        if os.path.lexists(real):
            return real
    return path


def _resolve(path: Path) -> Path | None:
    try:
        return path.resolve(strict=True)
    except (OSError, RuntimeError):  # dangling link, link loop
        return None


def check_source(raw_dir: Path, rel: str) -> Path:
    """The path to read for a listed file; IngestError when it must not or cannot be read.

    Reasons: `outside_raw` (a link leading out of the raw folder is not followed), `broken_link`,
    `not_a_file` (a folder, named pipe or device: opening a pipe would hang the run), `unreadable`.
    """
    path = raw_path(raw_dir, rel)
    with contextlib.suppress(OSError):  # the usual case, a plain file, costs one system call
        if stat.S_ISREG(os.lstat(path).st_mode):
            return path
    root = Path(raw_dir).resolve()
    if path.is_symlink():
        target = _resolve(path)
        if target is None:
            raise IngestError("broken_link", f"is a link to {os.readlink(path)!r}, which does not exist (or loops)")
        if not target.is_relative_to(root):
            raise IngestError("outside_raw", f"is a link to {str(target)!r}, outside the raw folder; links are only followed within it")
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise IngestError("unreadable", f"cannot be opened: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(mode):
        raise IngestError("not_a_file", f"is a {_kind(mode)}, not a regular file")
    return path


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "named pipe"), (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device")):
        if test(mode):
            return name
    return "special file"


def fingerprint(raw_dir: Path, rel: str, chunk: int = 1 << 20) -> tuple[str, int]:
    """(sha256, size) of a listed file, for change detection; read in chunks, never whole.

    What ingest will not read (a link out of the folder, a pipe, a broken link) is not read here
    either: its fingerprint is that of its description, so that a change to it is still noticed.
    """
    try:
        path = check_source(raw_dir, rel)
    except IngestError as exc:
        return hashlib.sha256(f"{exc.reason}:{exc.detail}".encode("utf-8", "surrogateescape")).hexdigest(), 0
    h = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(chunk), b""):
                h.update(block)
                size += len(block)
    except OSError:  # vanished or unreadable: ingest quarantines it with the reason
        return "0" * 64, 0
    return h.hexdigest(), size


# -- bytes to text -------------------------------------------------------------------------------
def read_bytes(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, refusing files over `max_bytes` before reading them (and never blocking on
    a pipe that replaced the file since it was checked)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise IngestError("unreadable", f"cannot be opened: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise IngestError("not_a_file", f"is a {_kind(info.st_mode)}, not a regular file")
        if info.st_size > max_bytes:
            raise IngestError("oversized", f"{info.st_size:,} bytes is over the {max_bytes:,}-byte cap (Settings.max_file_bytes); it was not read")
        try:
            # As many bytes as the file holds, plus one: a read of the cap's size would first
            # allocate a buffer of that size (5 MB by default) for every 1.5 KB article.
            data = fh.read(info.st_size + 1)
            if len(data) > info.st_size:  # it grew after the size check: read on, up to the cap
                data += fh.read(max_bytes + 1 - len(data))
        except OSError as exc:
            raise IngestError("unreadable", f"read failed: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:  # it grew after the size check
        raise IngestError("oversized", f"over the {max_bytes:,}-byte cap (Settings.max_file_bytes); it was not read whole")
    return data


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
_LETTER = re.compile(r"[^\W\d_]")
_NON_ASCII_LETTER = re.compile(r"(?=[^\W\d_])[^\x00-\x7f]")
_WORD = re.compile(r"[^\W\d_]+")
_ASCII_NON_LETTERS = str.maketrans({chr(c): " " for c in range(128) if not chr(c).isalpha()})
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
# Scripts that name their language outright (code, letters, share of all letters that decides);
# Latin and Cyrillic text needs its words counted. Kana before Han: Japanese text has both.
# Every range is outside ASCII: the patterns are matched against the sample's non-ASCII letters only.
SCRIPTS = tuple(
    (code, re.compile(rf"[{lo}-{hi}]"), share)
    for code, lo, hi, share in (
        ("ar", "\u0600", "\u06ff", 0.3), ("he", "\u0590", "\u05ff", 0.3), ("el", "\u0370", "\u03ff", 0.3),
        ("hy", "\u0530", "\u058f", 0.3), ("ka", "\u10a0", "\u10ff", 0.3), ("hi", "\u0900", "\u097f", 0.3),
        ("th", "\u0e00", "\u0e7f", 0.3), ("ko", "\uac00", "\ud7af", 0.3), ("ja", "\u3040", "\u30ff", 0.05),
        ("zh", "\u4e00", "\u9fff", 0.3),
    )
)
KAZAKH_LETTERS = "әғқңөұүһі"  # Cyrillic letters Russian does not have


def detect_language(text: str, stopwords: dict[str, frozenset[str]]) -> str:
    """ISO 639-1 code from the script and the most frequent function words; `und` if unknown."""
    sample = text[:5000]
    # Counting with regular expressions, not per-character Python loops: this runs on every article.
    if not _LETTER.search(sample):
        return "und"
    # The letters of other scripts, found in one scan: none in most articles (curly quotes and
    # dashes are not letters), and then no script is counted and the sample's letters are not either.
    others = "" if sample.isascii() else "".join(_NON_ASCII_LETTER.findall(sample))
    letters = len(_LETTER.findall(sample)) if others else 0
    def share(pattern: re.Pattern[str]) -> float:
        return len(pattern.findall(others)) / letters if others else 0.0
    for code, pattern, enough in SCRIPTS:
        if share(pattern) > enough:
            return code
    lowered = sample.lower()
    words = Counter(_WORD.findall(lowered) if others else _ascii_words(lowered))
    present = set(words)  # a set & a set walks the smaller one: the stop words, not every word
    scores = {lang: sum(words[w] for w in present & stop) for lang, stop in stopwords.items()}
    if share(_CYRILLIC) > 0.3:
        kk_letters = sum(map(lowered.count, KAZAKH_LETTERS))
        return "kk" if kk_letters > 5 or scores.get("kk", 0) > scores.get("ru", 0) else "ru"
    best = max(scores, key=scores.get)
    return best if scores[best] >= 2 else "und"


def _ascii_words(lowered: str) -> list[str]:
    """The words of a lowered text whose letters are all a-z: runs of a-z, split out at C speed (a
    third of the cost of the Unicode word pattern); other characters (“, —) separate them."""
    return lowered.encode("ascii", "replace").decode("ascii").translate(_ASCII_NON_LETTERS).split()


def language_name(code: str) -> str:
    """`Russian (ru)`: a code as people read it."""
    import pycountry

    found = pycountry.languages.get(alpha_2=code) if len(code) == 2 else None
    return f"{found.name} ({code})" if found else code


def _wanted(settings: Settings) -> str:
    """`English (en)`: the languages processed, named for a quarantine detail (only rejected files need it)."""
    return ", ".join(language_name(code) for code in settings.languages)


# -- articles ------------------------------------------------------------------------------------
def make_article_id(text: str) -> str:
    """A stable id from the cleaned text: whitespace and case do not change it."""
    key = " ".join(text.split()).casefold()
    return "art-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def ingest_file(raw_dir: Path, rel_path: str, settings: Settings, rules: IngestRules) -> dict:
    """One article row from one raw file; raises IngestError with a reason code otherwise."""
    data = read_bytes(check_source(raw_dir, rel_path), settings.max_file_bytes)
    text, encoding = decode(data)
    hint_title = None
    if rel_path.lower().endswith((".html", ".htm")) or looks_like_html(text):
        text, hint_title = html_to_text(text)
    text = normalize(text)
    page = rules.page.parse(text, hint_title=hint_title)
    body = page.text
    if not body.strip():
        raise IngestError("empty", f"decoded as {encoding}, but nothing is left once page furniture (menus, stamps, copyright lines) is removed")
    spans = sentence_spans(body)
    if len(body) < settings.min_article_chars:
        raise IngestError("not_article", f"only {len(body)} characters of text after cleaning; an article has at least {settings.min_article_chars}")
    # The language before the sentence test: Chinese or Japanese prose has no spaces between words.
    language = detect_language(body, rules.stopwords)
    if language not in settings.languages and language != "und":
        raise IngestError("unsupported_language", f"the text is in {language_name(language)}; processed: {_wanted(settings)} (Settings.languages); kept as is, not translated or cleaned")
    if not any(len(body[s:e].split()) >= 4 for s, e in spans):
        raise IngestError("not_article", f"{len(body)} characters but no sentence of four or more words (a list, table or code, not prose)")
    if language not in settings.languages:
        raise IngestError("unsupported_language", f"the language could not be recognised (too few common words of any known language); processed: {_wanted(settings)}")
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
            quarantine.append(quarantine_row(rel_path, "ingest", "ingest_error", describe_exception(exc), run_id, now))
            continue
        first = articles.get(row["article_id"])
        if first is not None:
            first["duplicate_paths"].append(rel_path)
            continue
        row["ingested_at"] = now
        articles[row["article_id"]] = row
    return pd.DataFrame(list(articles.values())), pd.DataFrame(quarantine)


def describe_exception(exc: BaseException) -> str:
    """`ValueError: bad value (at page.py:120 in parse)`: an unexpected error in one line."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno} in {frames[-1].name})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def quarantine_row(source_path: str, stage: str, reason: str, detail: str, run_id: str, at: dt.datetime | pd.Timestamp) -> dict:
    return {"source_path": source_path, "stage": stage, "reason": reason, "detail": detail[:2000], "run_id": run_id, "at": at}

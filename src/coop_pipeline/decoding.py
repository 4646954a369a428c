"""Bytes to text for raw files: tell binary from text, then find the encoding.

Order: a byte-order mark; UTF-16 without one (its NUL bytes sit on every other byte); binary
signatures and NUL bytes; UTF-8; then the most plausible legacy encoding. Detectors guess legacy
encodings badly on short, mostly-English pages (a cp1252 `café` comes out as cp1250 or cp775), so the
candidates are scored on what their non-ASCII characters look like: common letters of one script per
word win over symbols, control characters and runs of rare accented letters.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

from coop_pipeline.errors import IngestError

BINARY_SIGNATURES = {
    b"\x89PNG": "PNG image",
    b"\xff\xd8\xff": "JPEG image",
    b"GIF8": "GIF image",
    b"RIFF": "RIFF container (WebP image, WAV or AVI)",
    b"II*\x00": "TIFF image",
    b"MM\x00*": "TIFF image",
    b"%PDF": "PDF document",
    b"PK\x03\x04": "ZIP archive (or an Office document)",
    b"PK\x05\x06": "ZIP archive (empty)",
    b"\x1f\x8b": "gzip archive",
    b"7z\xbc\xaf": "7z archive",
    b"Rar!": "RAR archive",
    b"\xfd7zXZ\x00": "xz archive",
    b"\x28\xb5\x2f\xfd": "zstd archive",
    b"BZh": "bzip2 archive",
    b"\xd0\xcf\x11\xe0": "legacy Office document",
    b"\x7fELF": "ELF executable",
    b"SQLite format 3\x00": "SQLite database",
    b"PAR1": "Parquet file",
}
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE, whose BOM is its prefix
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Legacy encodings tried when the bytes are not UTF-8: Western European (Latin-1 is a subset of
# cp1252 for every printable character), Cyrillic (Windows and KOI8-R) and Central European.
LEGACY = ("cp1252", "cp1251", "koi8_r", "cp1250")
# Non-ASCII characters that real text in those encodings is made of.
_COMMON = frozenset(
    "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿßœšžčćłńśźżőűășțşţğěřůďťňľĺŕ"
    "ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝŒŠŽČĆŁŃŚŹŻŐŰĂȘȚŞŢĞĚŘŮĎŤŇĽĹŔ"
    "“”‘’„«»–—…•€£°©®™·§¡¿\u00a0"
)
_GLUE = frozenset("“”‘’„«»–—…\u00a0\u00ad")  # punctuation that does touch letters
_DECLARED = re.compile(rb"""(?:charset|encoding)\s*=\s*["']?([A-Za-z0-9_\-:.]{2,40})""", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+")


def decode(data: bytes) -> tuple[str, str]:
    """Text and encoding name of a raw file's bytes; IngestError (`empty`, `binary`, `undecodable`) otherwise."""
    if not data.strip():
        raise IngestError("empty", "the file is empty" if not data else "the file holds only whitespace")
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                return _checked(data.decode(encoding), encoding), encoding
            except UnicodeDecodeError as exc:
                raise IngestError("undecodable", f"starts with a {encoding} byte-order mark but is not valid {encoding} ({exc.reason} at byte {exc.start})") from exc
    for signature, kind in BINARY_SIGNATURES.items():
        if data.startswith(signature):
            raise IngestError("binary", f"starts with the signature of a {kind}, not text")
    utf16 = _utf16_without_bom(data)
    if utf16 is not None:
        return utf16
    nul = data.find(b"\x00")
    if nul >= 0:
        raise IngestError("binary", f"contains NUL bytes (first at byte {nul}), so it is not a text file")
    try:
        return _checked(data.decode("utf-8"), "utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    return _legacy(data)


def _utf16_without_bom(data: bytes) -> tuple[str, str] | None:
    """UTF-16 text that lost its BOM: NUL high bytes (ASCII letters, spaces) on every other byte."""
    sample = data[:4096]
    if len(sample) < 32:
        return None
    even, odd = sample[0::2], sample[1::2]
    for encoding, highs, lows in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        # Text in one or two scripts has one or two high bytes (0x00 for ASCII, 0x04 for Cyrillic...),
        # and at least its spaces give NULs; binary data spreads its bytes.
        if highs.count(0) < 0.1 * len(highs):  # most files: no NUL, so no need to count the other bytes
            continue
        top_two = sum(sorted((highs.count(b) for b in set(highs)), reverse=True)[:2])
        if top_two >= 0.9 * len(highs) and lows.count(0) <= 0.01 * len(lows):
            try:
                text = data[: len(data) - len(data) % 2].decode(encoding)
            except UnicodeDecodeError:
                continue
            if _badness(text) < 0.05:
                return _checked(text, encoding), encoding
    return None


def _legacy(data: bytes) -> tuple[str, str]:
    """The most plausible legacy decoding: declared charset, fixed candidates and the detector's guess."""
    candidates: list[str] = []
    declared = _DECLARED.search(data[:4096])
    if declared:
        candidates.append(declared.group(1).decode("ascii"))
    candidates += LEGACY
    from charset_normalizer import from_bytes  # imported late: only files that are not UTF-8 need it

    guess = from_bytes(data[:65536]).best()
    if guess is not None:
        candidates.append(guess.encoding)
    best: tuple[float, int, str, str] | None = None
    for rank, encoding in enumerate(dict.fromkeys(candidates)):
        try:
            codecs.lookup(encoding)
            text = data.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
        score = (_implausibility(text), rank, encoding, text)
        if best is None or score[:2] < best[:2]:
            best = score
    if best is None or best[0] >= 0.5:
        raise IngestError("undecodable", "not UTF-8, and no legacy encoding (cp1252, cp1251, KOI8-R, cp1250, or a detected one) gives readable text")
    return _checked(best[3], best[2]), best[2]


def _implausibility(text: str) -> float:
    """How unlike real text the non-ASCII part of a decoding is: 0 (all common letters) and up."""
    text = text[:65536]  # a sample decides; scoring megabytes would cost seconds per candidate
    odd = [c for c in text if ord(c) > 127]
    if not odd:
        return 0.0
    penalty = 0.0
    for c in odd:
        category = unicodedata.category(c)
        if category in ("Cc", "Cn", "Co", "Cs") or c == "\ufffd":
            penalty += 5
        elif c not in _COMMON and not ("\u0400" <= c <= "\u04ff" and category.startswith("L")):
            penalty += 1
    for i, c in enumerate(text):
        # A symbol glued to a letter ("£odzi", "Z³rich") is a letter of another code page.
        if ord(c) > 127 and not c.isalpha() and c not in _GLUE and (text[i - 1 : i].isalpha() or text[i + 1 : i + 2].isalpha()):
            penalty += 2
    for word in _WORD.findall(text):
        if word.isascii():
            continue
        scripts = {"cyr" if "\u0400" <= c <= "\u04ff" else "lat" for c in word if c.isalpha()}
        if len(scripts) > 1:  # "Đîñêîñ" is Latin, "Pоссия" mixes: both are mis-decodings
            penalty += 3
        penalty += 2 * len(re.findall(r"[^\x00-\x7f\u0400-\u04ff]{3,}", word))  # runs of accented letters
        penalty += sum(1 for a, b in zip(word, word[1:]) if a.islower() and b.isupper())  # "йЮГЮУЯ"
    return penalty / len(odd)


_ASCII_BAD = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")  # ASCII control characters but tabs and line breaks
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _badness(text: str) -> float:
    """Share of characters no text file holds: control characters (but tabs and line breaks),
    unassigned or private-use code points, replacement characters. The ASCII ones are counted by
    a regex and only the other characters are looked up one by one: most articles are ASCII."""
    sample = text[:65536]
    if not sample:
        return 0.0
    bad = len(_ASCII_BAD.findall(sample))
    if not sample.isascii():
        bad += sum(1 for c in _NON_ASCII.findall(sample) if c == "\ufffd" or unicodedata.category(c) in ("Cc", "Cn", "Co", "Cs"))
    return bad / len(sample)


def _checked(text: str, encoding: str) -> str:
    """`text`, unless it is mostly characters no text file holds (binary that happened to decode)."""
    if _badness(text) > 0.02:
        raise IngestError("binary", f"decodes as {encoding} but is full of control or unassigned characters, so it is not text")
    return text

"""Text utilities shared by the stages: Unicode normalisation and sentence spans.

Sentence spans are character offsets into the cleaned article text, so every downstream record can
point back to its evidence.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Invisible or exotic spacing that news pages carry; all become a plain space or disappear.
_SPACES = re.compile(r"[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\t\f\v]+")
_INVISIBLE = re.compile(r"[\u200b-\u200d\u2060\ufeff\u00ad]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


_ASCII_SPACES = re.compile(r"[\t\f]+")  # what _SPACES can match in ASCII text once _CONTROL removed \v


def normalize(text: str) -> str:
    """NFC-normalise, unify line endings and spacing, drop invisible and control characters."""
    if text.isascii():  # most articles: no invisible or exotic spaces, already NFC; same result, faster
        text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
        # A substring test costs far less than a regex scan, and most texts have no tab or form feed.
        return _ASCII_SPACES.sub(" ", text) if "\t" in text or "\f" in text else text
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    text = _INVISIBLE.sub("", text)
    text = _CONTROL.sub("", text)
    # NFC last: removing a zero-width character can bring a letter and its accent together, and the
    # result must be normal form already (normalising twice changes nothing; ids stay stable).
    return unicodedata.normalize("NFC", _SPACES.sub(" ", text))


# Words that end with a period without ending a sentence.
ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof gen col lt maj capt sgt st no nos vs etc inc ltd co corp jsc jr sr
    jan feb mar apr jun jul aug sep sept oct nov dec est approx dept univ gov govt rep sen
    h.e e.g i.e u.s u.k u.n u.s.a a.m p.m""".split()
)

_BOUNDARY = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-ZА-ЯЁ0-9])")


def _ends_with_abbreviation(text: str, dot: int) -> bool:
    """True when the period at `dot` closes an abbreviation or a single initial ("B. Kipkosgey")."""
    start = dot
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "."):
        start -= 1
    word = text[start:dot].lower()
    if not word:
        return False
    if len(word) == 1 and word.isalpha():  # an initial
        return True
    return word in ABBREVIATIONS


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of `text`; line breaks always end a sentence."""
    return list(_sentence_spans(text))


@lru_cache(maxsize=1024)
def _sentence_spans(text: str) -> tuple[tuple[int, int], ...]:
    """Cached: the entity, relation and event stages each split every article of a batch (up to a
    thousand articles: a batch's texts are in memory anyway)."""
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        base, chunk = line.start(), line.group()
        start = 0
        for m in _BOUNDARY.finditer(chunk):
            if chunk[m.start()] == "." and _ends_with_abbreviation(chunk, m.start()):
                continue
            _add_span(spans, chunk, base, start, m.end())
            start = m.end()
        _add_span(spans, chunk, base, start, len(chunk))
    return tuple(spans)


def _add_span(spans: list[tuple[int, int]], chunk: str, base: int, start: int, end: int) -> None:
    while start < end and chunk[start].isspace():
        start += 1
    while end > start and chunk[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((base + start, base + end))

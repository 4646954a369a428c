"""The report page in a real browser: headless Chromium loads latest.html and paints its charts."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

import pytest

from coop_pipeline import quality, svgchart
from coop_pipeline.config import Settings
from quality_fixtures import healthy_tables, last_run_id, with_warnings, write_tables

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium not found on PATH: install it (Debian: apt-get install -y chromium) to render the report in a browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def chromium(*args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="quality-chromium-") as profile:
        return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=120, check=True)


def read_png(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB(A) rows of an 8-bit non-interlaced PNG (what Chromium writes)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    bpp = 4 if color == 6 else 3
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, [bytes(r[i] for i in range(0, len(r)) if i % bpp < 3) for r in rows]


def count_colour(rows: list[bytes], hex_colour: str, tolerance: int = 6) -> int:
    want = bytes.fromhex(hex_colour.lstrip("#"))
    n = 0
    for row in rows:
        for i in range(0, len(row), 3):
            if all(abs(row[i + k] - want[k]) <= tolerance for k in range(3)):
                n += 1
    return n


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("browser")
    tables = with_warnings(healthy_tables())
    write_tables(tmp / "out", tables)
    quality.run_quality(Settings(raw_dir=tmp, out_dir=tmp / "out"), last_run_id(tables))
    return tmp / "out" / "quality" / "latest.html"


def test_chromium_draws_every_chart(page):
    dom = chromium("--dump-dom", page.as_uri()).stdout
    assert 'data-verdict="warnings"' in dom
    figures = re.findall(r"<figure.*?</figure>", dom, flags=re.S)
    assert len(figures) == 8
    for fig in figures:
        title = re.search(r"<h3>(.*?)</h3>", fig).group(1)
        assert fig.count("<svg") == 1, title
        marks = len(re.findall(r'<rect class="bar"[^>]*width="(?!0\.0")', fig)) + fig.count('class="line"')
        assert marks > 0, f"chart {title!r} drew nothing"
    assert len(re.findall(r'<tr class="fail warning">', dom)) == 3


def test_chromium_paints_the_bars(page, tmp_path):
    shot, blank = tmp_path / "report.png", tmp_path / "blank.png"
    # Half the device scale: a quarter of the pixels to decode in pure Python, same solid colours.
    size = ("--window-size=1200,1800", "--force-device-scale-factor=0.5")
    chromium(*size, f"--screenshot={shot}", page.as_uri())
    (tmp_path / "blank.html").write_text("<!doctype html><title>blank</title>")
    chromium(*size, f"--screenshot={blank}", (tmp_path / "blank.html").as_uri())
    width, height, rows = read_png(shot)
    assert (width, height) == (600, 900)
    assert count_colour(read_png(blank)[2], svgchart.PALETTE[0]) == 0
    # The blue of the event bars and the green of the article bars are painted, in quantity.
    assert count_colour(rows, svgchart.PALETTE[0]) > 500
    assert count_colour(rows, svgchart.PALETTE[2]) > 500

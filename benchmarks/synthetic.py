"""Varied synthetic news articles for the throughput benchmark (not test data: nothing is asserted on it).

Articles vary the people, titles, countries, organizations, cities, dates and their header formats
(the seed formats, TASS, Xinhua, Oreanda, HTML pages), lengths (1 to 5 paragraphs of 2 to 5 sentences)
and events; about 1% are bad files (empty, binary, too short) and about 0.5% are copies of another
article under a new name. Their size and density are those of the annotated corpus (real news): 1.4 KB
of text, 27 mentions and 6 events per article on average (the corpus: 1.5 KB, 27 mentions, 4.4
events). The first version of this generator wrote 4.3 KB articles with 107 mentions and 22 events
each, which made extraction look several times slower per article than on real pages.
The same (seed, index) always gives the same file, so runs are comparable.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

FIRST = ["Beibut", "Talgat", "Nurlan", "Aigerim", "Hillary", "Jean-Baptiste", "Francis", "Yury", "Bagdat", "Sadyr",
         "Marat", "Dana", "Askar", "Mei", "Li", "Anna", "Pierre", "Olga", "Ahmed", "Fatima", "Wanjiru", "Kwame",
         "Rustam", "Zhanna", "Yerlan", "Sofia", "Carlos", "Hiroshi", "Priya", "Omar"]
LAST = ["Atamkulov", "Mussabayev", "Danenov", "Kipkosgey", "Lemoyne", "Etienne", "Borisov", "Musin", "Zhaparov",
        "Sadykov", "Nurpeisova", "Wang", "Zhang", "Petrova", "Dubois", "Odhiambo", "Mensah", "Tokayev", "Ibraimov",
        "Kassymova", "Tanaka", "Sharma", "Haddad", "Moreau", "Ivanov", "Kuanyshev", "Abenov", "Garcia", "Chen", "Mwangi"]
TITLES = ["Minister of Digital Development, Innovation and Aerospace Industry", "Ambassador Extraordinary and Plenipotentiary",
          "Director General of the Space Agency", "Chairman of the Board", "Deputy Prime Minister", "Secretary of State",
          "Head of the Aerospace Committee", "CEO of the national space company", "Vice Minister of Foreign Affairs"]
COUNTRIES = [("Kazakhstan", "Kazakh", "Astana"), ("Kenya", "Kenyan", "Nairobi"), ("France", "French", "Paris"),
             ("Russia", "Russian", "Moscow"), ("China", "Chinese", "Beijing"), ("India", "Indian", "New Delhi"),
             ("Japan", "Japanese", "Tokyo"), ("the United Arab Emirates", "Emirati", "Abu Dhabi"),
             ("Turkey", "Turkish", "Ankara"), ("Kyrgyzstan", "Kyrgyz", "Bishkek"), ("Uzbekistan", "Uzbek", "Tashkent"),
             ("Germany", "German", "Berlin"), ("South Korea", "South Korean", "Seoul"), ("Egypt", "Egyptian", "Cairo")]
ORGS = ["Kazcosmos", "the Kenya Space Agency", "Roscosmos", "CNES", "the China National Space Administration",
        "JSC NC Kazakhstan Gharysh Sapary", "the Ministry of Defense and Aerospace Industry", "Airbus Defence and Space",
        "the Indian Space Research Organisation", "JAXA", "the Emirates Institution for Advanced Science and Technology"]
TOPICS = ["satellite data sharing", "training of engineers", "the Baiterek project", "remote sensing", "space weather research",
          "a joint communications satellite", "launch services at Baikonur", "cyber security", "higher education in space science",
          "the assembly and testing complex", "small satellite manufacturing", "navigation systems"]
VERBS = ["met with", "held talks with", "signed a memorandum of understanding with", "discussed cooperation with",
         "received a delegation from", "invited", "thanked", "agreed with", "visited"]
FILLER = ["The sides noted the importance of strengthening bilateral relations in the field.",
          "Experts from both countries will continue consultations in the coming months.",
          "According to the press service, the talks took place in a warm and friendly atmosphere.",
          "The parties also exchanged views on regional and international issues of mutual interest.",
          "It was noted that the volume of joint projects has grown considerably over the past years.",
          "The delegation toured the National Space Center and the flight control centre.",
          "Earlier this year, the two countries launched a working group on scientific exchanges.",
          "Representatives of universities and private companies attended the meeting as well."]
NAMED_SHARE = 0.35  # sentences with names and an event; the others are filler, as in real news
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]


SPAN_DAYS = 6200  # articles are dated at random over 17 years from 2008


def _date(rng: random.Random, recent_days: int | None = None, day: float | None = None) -> dt.datetime:
    """A random date over the whole span, or over its last `recent_days` (new articles about recent
    events), or on `day` of the span (chronological archives); the same random draws either way."""
    offset = SPAN_DAYS - recent_days + rng.randrange(recent_days) if recent_days else rng.randrange(SPAN_DAYS)
    minutes = rng.randrange(1440)
    return dt.datetime(2008, 1, 1) + dt.timedelta(days=offset if day is None else day, minutes=minutes)


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _sentence(rng: random.Random, index: int) -> str:
    a, b = rng.sample(COUNTRIES, 2)
    who = _person(rng)
    title = rng.choice(TITLES)
    if rng.random() < 0.5:
        return (f"{a[1]} {title} {who} {rng.choice(VERBS)} {_person(rng)}, {rng.choice(TITLES)} of {b[0]}, "
                f"in {a[2]} to discuss {rng.choice(TOPICS)} (item {index}).")
    return (f"{who}, {title} of {a[0]}, said that {rng.choice(ORGS)} and {rng.choice(ORGS)} intend to expand "
            f"cooperation on {rng.choice(TOPICS)} with {b[0]} by {rng.randrange(2025, 2035)}.")


def article(seed: int, index: int, recent_days: int | None = None, per_span: int | None = None) -> tuple[str, bytes]:
    """File name and bytes of synthetic article number `index`: dated in the last `recent_days` of
    the span if given, or in file order when `per_span` articles fill the span (article `per_span`
    and later are the newest news); the same article otherwise, only its date differs."""
    rng = random.Random(seed * 1_000_003 + index)
    roll = rng.random()
    folder = f"batch{index // 1000:04d}"
    if roll < 0.004:
        return f"{folder}/empty-{index}.txt", b"   \n"
    if roll < 0.007:
        return f"{folder}/image-{index}.txt", b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(64, 512))
    if roll < 0.010:
        return f"{folder}/stub-{index}.txt", b"Short note."
    if roll < 0.015:  # a copy of an earlier article under another name
        return f"{folder}/copy-{index}.txt", article(seed, rng.randrange(max(index, 1)), per_span=per_span)[1] if index else b""
    when = _date(rng, recent_days, None if per_span is None else index * SPAN_DAYS / per_span)
    a, b = rng.sample(COUNTRIES, 2)
    title = f"{a[0][0].upper() + a[0][1:]} and {b[0]} {rng.choice(['discuss', 'expand', 'review', 'plan'])} {rng.choice(TOPICS)}"
    paragraphs = [" ".join(_sentence(rng, index) if rng.random() < NAMED_SHARE else rng.choice(FILLER) for _ in range(rng.randint(2, 5)))
                  for _ in range(rng.randint(1, 5))]
    style = rng.randrange(6)
    if style == 0:
        head = f"{when:%d.%m.%Y, %H:%M} {rng.randrange(100, 99999)}\n\n{title}\n\n{title}\n"
        text = head + "\n\n".join(paragraphs)
    elif style == 1:
        text = f"date {when:%Y-%m-%d} {a[2].upper()}. KAZINFORM " + "\n\n".join(paragraphs)
    elif style == 2:
        text = f"{a[2].upper()}, {MONTHS[when.month - 1]} {when.day}. /TASS/. " + "\n\n".join(paragraphs)
    elif style == 3:
        text = f"OREANDA-NEWS. {MONTHS[when.month - 1]} {when.day:02d}, {when.year}. " + "\n\n".join(paragraphs)
    elif style == 4:
        text = (f"{title}\n({rng.choice(['Xinhua', 'Trend'])}) {when:%H:%M}, {MONTHS[when.month - 1]} {when.day:02d}, {when.year}\n"
                f"{a[2].upper()}, {MONTHS[when.month - 1]} {when.day} (Xinhua) -- " + "\n\n".join(paragraphs))
    else:
        body = "".join(f"<p>{p}</p>\n" for p in paragraphs)
        html = (f"<!DOCTYPE html><html><head><title>{title}</title><script>var x=1;</script></head><body>"
                f"<nav><a href='/'>Home</a></nav><article><h1>{title}</h1><time>{when.day} {MONTHS[when.month - 1]} {when.year}</time>\n"
                f"{body}</article><footer>Copyright news agency</footer></body></html>")
        return f"{folder}/article-{index}.html", html.encode("utf-8")
    encoding = "cp1251" if rng.random() < 0.02 else "utf-8"
    return f"{folder}/article-{index}.txt", text.encode(encoding, errors="replace")


def generate(raw_dir: Path, count: int, seed: int = 1, start: int = 0, recent_days: int | None = None, per_span: int | None = None) -> int:
    """Write articles number `start` .. `start + count - 1` under `raw_dir`; returns the bytes written."""
    written = 0
    for index in range(start, start + count):
        name, data = article(seed, index, recent_days, per_span)
        path = Path(raw_dir) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written += len(data)
    return written

"""Time the entity and relation stages on a folder of articles (not a test: speed lives here).

    python benchmarks/entities_speed.py OUT_DIR_OF_A_RUN [REPEAT]

Reads OUT/articles from an earlier run, repeats the batch REPEAT times (default 20) and prints
CPU milliseconds (process time, so other load on the machine does not count) per article and per 2 KB of text for entities.extract and relations.extract.
"""

from __future__ import annotations

import sys
import time

import pandas as pd

from coop_pipeline import entities, relations
from coop_pipeline.extract import Resources


def main() -> None:
    out, repeat = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20
    articles = pd.read_parquet(f"{out}/articles")
    # the same articles under new ids, so that each copy is its own article (relations.extract keys
    # the texts by article id: with repeated ids it saw each article once and the figure was too low)
    batch = pd.concat([articles.assign(article_id=articles["article_id"] + f"-{i}") for i in range(repeat)], ignore_index=True)
    t0 = time.process_time()
    resources = Resources.load()
    relations.extract(articles[:1], entities.extract(articles[:1], resources), resources)  # warm up: schema building
    t1 = time.process_time()
    found = entities.extract(batch, resources)
    t2 = time.process_time()
    relations.extract(batch, found, resources)
    t3 = time.process_time()
    n, chars = len(batch), int(batch["text"].str.len().sum())
    print(f"resources loaded (and one article warmed up) in {1000 * (t1 - t0):.0f} ms")
    print(f"{n} articles, {chars / n:.0f} chars each on average")
    for label, sec in (("entities", t2 - t1), ("relations", t3 - t2), ("both", t3 - t1)):
        print(f"{label:>10}: {1000 * sec / n:.3f} ms/article, {1000 * sec / (chars / 2048):.3f} ms per 2 KB, {n / sec:,.0f} articles/s")


if __name__ == "__main__":
    main()

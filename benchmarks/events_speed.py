"""Time the events stage on a folder of articles (not a test: speed lives here).

    python benchmarks/events_speed.py OUT_DIR_OF_A_RUN [REPEAT]

Reads OUT/articles from an earlier run, finds their entities once, repeats the batch REPEAT times
(default 20) and prints CPU milliseconds (process time, so other load on the machine does not count)
per article and per 2 KB of text for events.extract and for events.assign_clusters.
"""

from __future__ import annotations

import sys
import time

import pandas as pd

from coop_pipeline import entities, events
from coop_pipeline.extract import Resources


def main() -> None:
    out, repeat = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20
    articles = pd.read_parquet(f"{out}/articles")
    resources = Resources.load()
    found = entities.extract(articles, resources)
    # the same articles under new ids, so that each copy is its own article
    copies, ents = [], {k: [] for k in ("mentions", "entity_observations")}
    for i in range(repeat):
        suffix = f"-{i}"
        copies.append(articles.assign(article_id=articles["article_id"] + suffix))
        for k in ents:
            ents[k].append(found[k].assign(article_id=found[k]["article_id"] + suffix))
    batch = pd.concat(copies, ignore_index=True)
    batch_ents = {k: pd.concat(v, ignore_index=True) for k, v in ents.items()}
    events.extract(articles[:1], found, resources)  # warm up
    t0 = time.process_time()
    table = events.extract(batch, batch_ents, resources)["events"]
    t1 = time.process_time()
    events.assign_clusters(table)
    t2 = time.process_time()
    n, chars = len(batch), int(batch["text"].str.len().sum())
    print(f"{n} articles, {chars / n:.0f} chars each on average, {len(table)} events")
    for label, sec in (("extract", t1 - t0), ("clusters", t2 - t1)):
        print(f"{label:>10}: {1000 * sec / n:.3f} ms/article, {1000 * sec / (chars / 2048):.3f} ms per 2 KB, {n / sec:,.0f} articles/s")


if __name__ == "__main__":
    main()

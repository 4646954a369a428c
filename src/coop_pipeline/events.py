"""Events stage: who did what with whom, when, where, and whether it happened.

`extract(articles, entities, resources)` returns `events` and `event_participants` of a batch;
`assign_clusters(events)` gives events that report the same real-world event one `cluster_id`.
The extractor arrives with issue 4; until then it finds nothing.
"""

from __future__ import annotations

import pandas as pd

from coop_pipeline.schemas import empty_frame


def extract(articles: pd.DataFrame, entities: dict[str, pd.DataFrame], resources: object) -> dict[str, pd.DataFrame]:
    """Events and their participants in a batch of articles."""
    return {"events": empty_frame("events"), "event_participants": empty_frame("event_participants")}


def assign_clusters(events: pd.DataFrame) -> pd.DataFrame:
    """Events with their `cluster_id`; each event is its own cluster until issue 4."""
    events = events.copy()
    events["cluster_id"] = events["event_id"]
    return events

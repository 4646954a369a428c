"""Clusters of events that report the same real-world event, across one article or many.

Two rows are one real event when they come from different articles and have the same type, the
same pair of party countries, the same negation, no two different places, and day-precise dates within
CLUSTER_DAYS of the cluster's first report. Within one article the extractor has already folded the
retellings of an event into one row, so two rows of one article are two events and never share a
cluster (not even through a third article). Rows with no known party country are never merged. The
result is deterministic: rows are visited in a fixed order and a cluster's id is derived from its first
report (earliest date, then smallest event id), so the same table always gives the same ids, and a
later report joins a cluster without renaming it (an incremental run rewrites only what it adds to).

Clustering is local in time: sorted by date, one key's reports fall into segments whose consecutive
dates are at most CLUSTER_DAYS apart, and no cluster spans a wider gap (a report later than that
after the previous one cannot be within CLUSTER_DAYS of any anchor before it). An incremental run
clusters again only the segments it adds reports to or removes reports from (`incremental`).
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd

CLUSTER_DAYS = 3  # reports of one meeting by several outlets differ by a day or two of publication


def _key(row) -> tuple:
    pair = tuple(sorted(c for c in {row.source_country, row.target_country} if isinstance(c, str)))
    return (row.event_type, pair, bool(row.negated))


def _as_date(value) -> dt.date | None:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value if isinstance(value, dt.date) else None


def assign_clusters(events: pd.DataFrame) -> pd.DataFrame:
    """Events with `cluster_id` set: one id per real-world event."""
    events = events.copy()
    if events.empty:
        events["cluster_id"] = events["event_id"]
        return events
    parent: dict[str, str] = {}
    articles: dict[str, set[str]] = {}  # root -> the articles its rows come from

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb and not articles[ra] & articles[rb]:
            parent[rb] = ra  # `a` is the chain's first report: it names the cluster
            articles[ra] |= articles.pop(rb)

    groups: dict[tuple, list[tuple]] = {}
    for row in events.itertuples(index=False):
        parent[row.event_id] = row.event_id
        articles[row.event_id] = {row.article_id}
        date = _as_date(row.event_date)
        if date is None or row.date_precision != "day":
            continue  # an undated or coarse report cannot be told apart from another one of its kind
        place = row.location_entity_id if isinstance(row.location_entity_id, str) else None
        groups.setdefault(_key(row), []).append((date, row.event_id, place))
    for key, members in groups.items():
        if not key[1]:  # no known party: nothing to tell two such events apart
            continue
        members.sort()
        # chain reports within CLUSTER_DAYS of the cluster's first date
        anchor = None
        for date, eid, place in members:
            if anchor is not None and (date - anchor[0]).days <= CLUSTER_DAYS and _same_place(anchor[2], place):
                union(anchor[1], eid)
            else:
                anchor = (date, eid, place)
    events["cluster_id"] = [cluster_name(find(e)) for e in events["event_id"]]
    return events


def cluster_name(first_report: str) -> str:
    """The id of the cluster whose first report is the event `first_report` (a lone event's own)."""
    return "cl-" + hashlib.sha1(first_report.encode()).hexdigest()[:16]


def _same_place(a: str | None, b: str | None) -> bool:
    """Two reports of one event do not name two different places."""
    return a is None or b is None or a == b

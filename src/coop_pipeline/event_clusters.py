"""Clusters of events that report the same real-world event, across one article or many.

Two rows are one real event when they have the same type, the same pair of party countries, the
same negation, no two different places, and day-precise dates within CLUSTER_DAYS of the cluster's
first report (rows of one article with no day of their own join a same-status report of that article
whose date they contain). Rows with no known party country are never merged. The result
is deterministic: rows are visited in a fixed order and a cluster's id is derived from its smallest
event id, so the same table always gives the same ids.
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

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            lo, hi = sorted((ra, rb))
            parent[hi] = lo

    groups: dict[tuple, list[tuple]] = {}
    for row in events.itertuples(index=False):
        parent[row.event_id] = row.event_id
        date = _as_date(row.event_date)
        precise = date is not None and row.date_precision == "day"
        place = row.location_entity_id if isinstance(row.location_entity_id, str) else None
        groups.setdefault(_key(row), []).append((date if precise else None, row.event_id, row.article_id, date, row.date_precision, row.status, place))
    for key, members in groups.items():
        if not key[1]:  # no known party: nothing to tell two such events apart
            continue
        members.sort(key=lambda m: (m[0] is None, m[0] or dt.date.min, m[1]))
        # day-precise reports: chain within CLUSTER_DAYS of the cluster's first date
        anchor = None
        for date, eid, _, _, _, _, place in members:
            if date is None:
                break
            if anchor is not None and (date - anchor[0]).days <= CLUSTER_DAYS and _same_place(anchor[2], place):
                union(anchor[1], eid)
            else:
                anchor = (date, eid, place)
        # undated or coarse reports join a report of the same article they agree with
        by_article: dict[str, list[tuple]] = {}
        for m in members:
            by_article.setdefault(m[2], []).append(m)
        for rows in by_article.values():
            rows.sort(key=lambda m: m[1])
            for m in rows:
                if m[0] is not None:
                    continue
                for other in rows:
                    if other is not m and _compatible(m, other):
                        union(m[1], other[1])
                        break
    events["cluster_id"] = ["cl-" + hashlib.sha1(find(e).encode()).hexdigest()[:16] for e in events["event_id"]]
    return events


def _same_place(a: str | None, b: str | None) -> bool:
    """Two reports of one event do not name two different places."""
    return a is None or b is None or a == b


def _compatible(a: tuple, b: tuple) -> bool:
    """An undated or month/year report agrees with another of its article when it has the same status
    and place and its coarse date contains the other's."""
    if a[5] != b[5] or not _same_place(a[6], b[6]):
        return False
    da, db = a[3], b[3]
    if da is None or db is None:
        return True
    if a[4] == "year":
        return da.year == db.year
    if a[4] == "month":
        return (da.year, da.month) == (db.year, db.month)
    return da == db

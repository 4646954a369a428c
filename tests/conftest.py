"""Shared fixtures: dictionaries are loaded once per test session, as a run loads them once."""

from __future__ import annotations

import pandas as pd
import pytest

from coop_pipeline.extract import Resources


@pytest.fixture(scope="session")
def resources() -> Resources:
    return Resources.load()


def article_frame(text: str, dateline: str | None = None, publisher: str | None = None, article_id: str = "art-00000000000000a1") -> pd.DataFrame:
    """A one-article batch shaped like the staged articles table (only the columns the extractors read)."""
    return pd.DataFrame([{"article_id": article_id, "source_path": "case.txt", "text": text, "dateline": dateline, "source_name": publisher}])

"""Relations stage: who holds which position, who cooperates with whom, what is located where.

`extract(articles, mentions, observations, resources)` returns the `relationships` rows of a batch.
The extractor arrives with issue 3; until then it finds nothing.
"""

from __future__ import annotations

import pandas as pd

from coop_pipeline.schemas import empty_frame


def extract(articles: pd.DataFrame, entities: dict[str, pd.DataFrame], resources: object) -> pd.DataFrame:
    """Relationships stated in a batch of articles."""
    return empty_frame("relationships")

"""coop_pipeline: raw news about international cooperation in, validated Parquet tables out.

The analysis API (`load`, `connect`, `events_wide`, `country_pairs`, `positions`) is imported on
first use, so `import coop_pipeline` stays cheap (no pandas, DuckDB or Prefect until needed).
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("coop-pipeline")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+local"

_LAZY = {
    "load": "coop_pipeline.api",
    "connect": "coop_pipeline.api",
    "Dataset": "coop_pipeline.api",
    "events_wide": "coop_pipeline.views",
    "country_pairs": "coop_pipeline.views",
    "positions": "coop_pipeline.views",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'coop_pipeline' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])

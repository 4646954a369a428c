"""coop_pipeline: raw news about international cooperation in, validated Parquet tables out."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("coop-pipeline")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+local"

__all__ = ["__version__"]

"""One typed, immutable settings object for a run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from coop_pipeline.errors import ConfigError


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know; built once by the CLI or the flow and passed down."""

    raw_dir: Path = Path("raw")
    out_dir: Path = Path("output")
    full: bool = False
    batch_size: int = 500
    max_file_bytes: int = 5_000_000  # larger files are quarantined as `oversized` without being read
    min_article_chars: int = 80  # shorter texts are not articles
    quarantine_rate_threshold: float = 0.5  # quality check: share of files quarantined
    extensions: tuple[str, ...] = field(default=(".txt", ".html", ".htm"))
    languages: tuple[str, ...] = ("en",)  # articles in other languages are quarantined, not mangled

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.max_file_bytes < 1:
            raise ConfigError(f"max_file_bytes must be positive, got {self.max_file_bytes}")
        object.__setattr__(self, "raw_dir", Path(self.raw_dir))
        object.__setattr__(self, "out_dir", Path(self.out_dir))

    def check_raw_dir(self) -> None:
        """Fail before any work when the input directory is missing."""
        if not self.raw_dir.is_dir():
            raise ConfigError(f"raw directory not found: {self.raw_dir}")

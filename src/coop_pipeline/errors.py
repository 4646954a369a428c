"""One exception hierarchy: every error the pipeline raises on purpose is a PipelineError."""


class PipelineError(Exception):
    """Base class of the pipeline's own errors; the CLI turns these into one-line messages."""


class ConfigError(PipelineError):
    """Bad configuration or arguments: the run stops before any work."""


class DictionaryError(ConfigError):
    """A dictionary data file is malformed; the message names file, line and value."""

    def __init__(self, path: str, line: int, message: str):
        super().__init__(f"{path}:{line}: {message}")
        self.path, self.line = path, line


class IngestError(PipelineError):
    """A raw file cannot become an article; `reason` is the short quarantine code."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


class StoreError(PipelineError):
    """The output directory cannot be read or written as a dataset."""


class LockError(StoreError):
    """Another run holds the output directory's writer lock."""


class QualityError(PipelineError):
    """Critical data-quality checks failed on the tables a run committed; the message names them."""

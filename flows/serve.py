"""Serve the main flow as a Prefect deployment on a schedule (`coop-pipeline serve`).

The schedule lives on a real Prefect server (its scheduler creates the runs); this process polls
for them and runs each one in a subprocess. One run at a time: the runner's limit and the output's
writer lock both keep scheduled runs from overlapping.
"""

from __future__ import annotations

from pathlib import Path

from prefect.flows import EntrypointType
from prefect.settings import get_current_settings

from coop_flows.main import coop_pipeline_flow
from coop_pipeline.errors import ConfigError

DEPLOYMENT_NAME = "scheduled"
SERVER_HINT = (
    "no Prefect server to serve on: run `prefect server start --host 127.0.0.1` and "
    "`export PREFECT_API_URL=http://127.0.0.1:4200/api` first"
)


def serve(raw_dir: Path, out_dir: Path, cron: str | None = None, interval: float | None = None, lock_wait: float = 60.0, name: str = DEPLOYMENT_NAME) -> None:
    """Block, serving deployment `coop-pipeline/<name>` with a cron or interval schedule."""
    if (cron is None) == (interval is None):
        raise ConfigError("give exactly one of --cron EXPR or --interval SECONDS")
    if interval is not None and interval <= 0:
        raise ConfigError(f"--interval must be positive, got {interval}")
    if not get_current_settings().api.url:
        # Without a server Prefect would serve against a throw-away embedded one that never schedules.
        raise ConfigError(SERVER_HINT)
    coop_pipeline_flow.serve(
        name=name,
        cron=cron,
        interval=interval,
        # Absolute paths: scheduled runs start in subprocesses, possibly from another directory.
        parameters={"raw_dir": str(Path(raw_dir).resolve()), "out_dir": str(Path(out_dir).resolve()), "lock_wait": lock_wait},
        limit=1,
        entrypoint_type=EntrypointType.MODULE_PATH,
        description="coop-pipeline run on a schedule: incremental, one run at a time",
    )

"""Start one run of the main flow as fast as Prefect allows (used by `coop-pipeline run` and the benchmark).

Prefect's embedded server takes seconds to start (it imports the whole server in a subprocess). It is
started in a background thread at once, while this process imports the flow and, for a run that
will read many files, spawns its worker processes; the flow is called when all three are ready.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from prefect.context import SettingsContext
from prefect.settings import get_current_settings


def start_embedded_server() -> threading.Thread | None:
    """Start Prefect's embedded server in the background when no server is configured."""
    settings = get_current_settings()
    if settings.api.url or not settings.server.ephemeral.enabled:
        return None

    def start() -> None:
        from prefect.server.api.server import SubprocessASGIServer

        SubprocessASGIServer().start()  # the same instance the flow's client will find running

    thread = threading.Thread(target=start, name="prefect-server-start", daemon=True)
    thread.start()
    return thread


def expects_many_files(raw_dir: Path, out_dir: Path, full: bool) -> bool:
    """A full run, or the first one on this output: worth spawning workers before planning."""
    return full or not (Path(out_dir) / "_store" / "current" / "files").exists()


def launch_run(raw_dir: Path, out_dir: Path, full: bool = False, batch_size: int = 500, task_runner: str = "thread",
               dask_address: str | None = None, workers: int | None = None, lock_wait: float = 5.0,
               max_file_bytes: int | None = None, max_quarantine_rate: float | None = None) -> dict:
    """One run of the main flow; returns the flow's result."""
    server = start_embedded_server()
    from coop_flows import main

    flow = main.coop_pipeline_flow
    if task_runner != "thread":
        flow = flow.with_options(task_runner=main.make_task_runner(task_runner, dask_address, workers or 2))
        workers = 0  # Dask's processes do the CPU work
    elif expects_many_files(raw_dir, out_dir, full):
        main.ensure_workers(main.default_workers(workers))
    parameters = {"raw_dir": str(raw_dir), "out_dir": str(out_dir), "full": full, "batch_size": batch_size, "workers": workers, "lock_wait": lock_wait,
                  "max_file_bytes": max_file_bytes, "max_quarantine_rate": max_quarantine_rate}
    if server is None:
        return flow(**parameters)
    server.join()
    with without_heartbeats():
        return flow(**parameters)


@contextlib.contextmanager
def without_heartbeats():
    """No flow run heartbeats while the embedded server runs: it dies with this process, so there is
    no crashed run for them to reveal, and stopping their thread costs up to a second per run."""
    current = SettingsContext.get()
    flows = current.settings.flows.model_copy(update={"heartbeat_frequency": None})
    with SettingsContext(profile=current.profile, settings=current.settings.model_copy(update={"flows": flows})):
        yield

"""Start one run of the main flow as fast as Prefect allows (used by `coop-pipeline run` and the benchmark).

Prefect's embedded server takes seconds to start (a subprocess imports the whole server). Left to
itself, Prefect starts it when the flow is called, after importing the server's code into this
process as well (1.9 s of CPU and about 70 MiB, only to reach the class that starts the subprocess).
Here the same subprocess is started at once, with Prefect's own command and settings; meanwhile this
process imports the flow, spawns its worker processes and loads the dictionaries and schemas the flow
needs, and the flow talks to the server through its address. The command line starts it even before
this process imports Prefect (`start_server_now`), which saves another second. It stops when this
process exits, after Prefect has sent its last logs and events.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

# Prefect's own command for its embedded server (prefect.server.api.server.SubprocessASGIServer), less
# the registration of block types at start-up: the flow uses no blocks, and working out whether the
# registry changed imports every installed Prefect collection first (with prefect-dask, Dask's
# distributed: 0.5 s of the server's start). A server started with `prefect server start` registers them.
SERVER_ENV = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1",
              "PREFECT_API_BLOCKS_REGISTER_ON_START": "false", "PREFECT_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false"}
PORT_IN_USE = 3  # uvicorn's exit code when its port was taken after we picked it


class EmbeddedServer:
    """Prefect's embedded server as a subprocess of this one, on a free loopback port."""

    def __init__(self, settings_env: dict[str, str]) -> None:
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.settings_env = settings_env
        self._start()
        atexit.register(self.stop)  # after Prefect's services have drained: they stop with the threads, earlier

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def _start(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        prefect_dir = Path(importlib.util.find_spec("prefect").origin).parent  # found, not imported
        command = [sys.executable, "-m", "uvicorn", "--app-dir", str(prefect_dir.parent),
                   "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(self.port),
                   "--log-level", "error", "--lifespan", "on"]
        self.process = subprocess.Popen(command, env={**os.environ, **SERVER_ENV, **self.settings_env})

    def wait_ready(self) -> None:
        """Wait until the server answers its health check (Prefect's start-up timeout applies)."""
        from prefect.settings import get_current_settings

        deadline = time.monotonic() + get_current_settings().server.ephemeral.startup_timeout_seconds
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code == PORT_IN_USE:
                self._start()
            elif code is not None:
                raise RuntimeError(f"Prefect's embedded server exited with code {code} while starting")
            with contextlib.suppress(urllib.error.URLError, OSError):
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=1) as answer:
                    if answer.status == 200:
                        return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("timed out while starting Prefect's embedded server "
                           "(raise PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, or set PREFECT_API_URL to a running server)")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


_SERVER: EmbeddedServer | None = None  # one per process, shared by its runs


def start_server_now() -> None:
    """The command line's head start: Prefect's embedded server, started before this process imports
    Prefect (about a second, during which the server imports the same modules on the other core).

    Prefect's settings are not loaded yet, so the server gets this process's environment only, which is
    all the command line sets; the server reads the settings files (profiles, prefect.toml, .env) itself,
    as this process will. Skipped when PREFECT_API_URL or PREFECT_PROFILE is set, which point at another
    server more often than not. `start_embedded_server` checks the head start against the settings."""
    global _SERVER
    if _SERVER is None and not {"PREFECT_API_URL", "PREFECT_PROFILE"} & set(os.environ):
        _SERVER = EmbeddedServer({})


def start_embedded_server() -> EmbeddedServer | None:
    """Start Prefect's embedded server when no server is configured (once per process), or keep the
    one `start_server_now` started; stop that one if the settings name another server."""
    global _SERVER
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    if settings.api.url or not settings.server.ephemeral.enabled:
        if _SERVER is not None:  # a head start that a settings file turns down
            _SERVER.stop()
            _SERVER = None
        return None
    if _SERVER is None or _SERVER.process is None:
        _SERVER = EmbeddedServer(settings.to_environment_variables(exclude_unset=True))
    return _SERVER


def expects_many_files(raw_dir: Path, out_dir: Path, full: bool) -> bool:
    """A full run, or the first one on this output: worth spawning workers before planning."""
    return full or not (Path(out_dir) / "_store" / "current" / "files").exists()


def launch_run(raw_dir: Path, out_dir: Path, full: bool = False, batch_size: int = 500, task_runner: str = "thread",
               dask_address: str | None = None, workers: int | None = None, lock_wait: float = 5.0,
               max_file_bytes: int | None = None, max_quarantine_rate: float | None = None) -> dict:
    """One run of the main flow; returns the flow's result."""
    server = start_embedded_server()
    from coop_flows import main
    from coop_pipeline import pipeline

    flow = main.coop_pipeline_flow
    if task_runner != "thread":
        flow = flow.with_options(task_runner=main.make_task_runner(task_runner, dask_address, workers or 2))
        workers = 0  # Dask's processes do the CPU work
    elif expects_many_files(raw_dir, out_dir, full):
        main.ensure_workers(main.default_workers(workers))
    parameters = {"raw_dir": str(raw_dir), "out_dir": str(out_dir), "full": full, "batch_size": batch_size, "workers": workers, "lock_wait": lock_wait,
                  "max_file_bytes": max_file_bytes, "max_quarantine_rate": max_quarantine_rate}
    # What the flow would do first (dictionaries, schemas: about a second of CPU), done while the server
    # starts on the other core instead of after it has started.
    pipeline.warm_up()
    if server is None:
        return flow(**parameters)
    server.wait_ready()
    with talking_to(server):
        return flow(**parameters)


@contextlib.contextmanager
def talking_to(server: EmbeddedServer):
    """Prefect's settings for a run on the embedded server: its address, and no flow run heartbeats
    (the server dies with this process, so there is no crashed run for them to reveal, and stopping
    their thread costs up to a second per run)."""
    from prefect.context import SettingsContext

    current = SettingsContext.get()
    settings = current.settings.model_copy(update={
        "api": current.settings.api.model_copy(update={"url": server.api_url}),
        "flows": current.settings.flows.model_copy(update={"heartbeat_frequency": None}),
    })
    with SettingsContext(profile=current.profile, settings=settings):
        yield

"""The main Prefect flow: raw articles in, validated Parquet tables out.

Prefect lives here only. Each task wraps a plain function of `coop_pipeline.pipeline` and works on a
batch of hundreds of articles; tasks hand each other file paths and small summaries.

With the default thread task runner, the CPU-heavy steps (ingest and extract) are shared by one
process per core: this one and spawned worker processes (threads alone would share one core because
of the GIL). With `--task-runner dask`, Dask's worker processes do that job and no pool is started.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import wait
from prefect.runtime import flow_run
from prefect.states import Failed
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from coop_pipeline import pipeline, quality
from coop_pipeline.config import Settings
from coop_pipeline.errors import ConfigError, QualityError
from coop_pipeline.store import Store

TASK_OPTIONS = {"cache_policy": NO_CACHE, "persist_result": False}
# Task threads of the flow. A stage submits all its batches at once and Prefect's thread runner
# gives each submitted task a thread of its own, which holds its task run's state and allocator
# arena while it waits for a CPU slot: 200 threads per stage at 100,000 articles, and the flow
# process's memory grew with the corpus. A few threads per core keep every slot busy.
TASK_THREADS = max(16, 4 * (os.cpu_count() or 1))
_POOL: ProcessPoolExecutor | None = None  # this process's worker processes, used by task threads
_POOL_SIZE = 0
_SLOTS = threading.Semaphore(1)  # batches running at once: this process plus the worker processes
_HERE = threading.Semaphore(1)  # this process is one of the CPU workers too: saves a process's memory
# This process's batches all run on one thread: memory a batch frees is reused by the next one, not
# kept in the allocator arena of whichever task thread ran it (glibc keeps one per thread).
_HERE_THREAD = ThreadPoolExecutor(1, thread_name_prefix="coop-batches")


def _offload(fn, *args):
    """Run `fn(*args)` in this process when it has no worker processes or its own CPU slot is free,
    else in one of the worker processes (`workers - 1` of them: this process is the other worker).

    A task thread first waits for a free slot, then takes this process's slot if it is free. Without
    that wait every task thread would pass here at once, one batch would run here and all the others
    would queue for the worker processes, leaving this process idle for the rest of the stage.
    """
    pool = _POOL
    if pool is None:
        return fn(*args)
    with _SLOTS:
        if _HERE.acquire(blocking=False):
            try:
                return _HERE_THREAD.submit(fn, *args).result()
            finally:
                _HERE.release()
        try:
            return pool.submit(fn, *args).result()
        except BrokenProcessPool:  # a worker died (killed, or a script without a __main__ guard): go on here
            get_run_logger().warning("worker processes failed; running %s in the task thread", fn.__name__)
            return fn(*args)


def default_workers(workers: int | None) -> int:
    return (os.cpu_count() or 1) if workers is None else workers


def ensure_workers(workers: int) -> None:
    """Share the CPU-heavy tasks among `workers` processes: this one and `workers - 1` spawned ones
    (none for 0 or 1); the flow stops them once extraction is done.

    Spawned, not forked: a forked child would inherit the writer lock's file descriptor and keep the
    output locked after the run itself was killed. Each loads the dictionaries as soon as it starts.
    """
    global _POOL, _POOL_SIZE, _SLOTS
    if workers <= 1 or (_POOL is not None and _POOL_SIZE == workers):
        return
    stop_workers()
    _POOL = ProcessPoolExecutor(workers - 1, mp_context=multiprocessing.get_context("spawn"))
    _POOL_SIZE = workers
    _SLOTS = threading.Semaphore(workers)
    for _ in range(workers - 1):
        _POOL.submit(pipeline.warm_up)


def stop_workers() -> None:
    global _POOL, _POOL_SIZE
    if _POOL is not None:
        _POOL.shutdown(wait=True, cancel_futures=True)
    _POOL, _POOL_SIZE = None, 0


@task(name="ingest-batch", **TASK_OPTIONS)
def ingest_task(settings: Settings, run_id: str, batch_no: int, paths: list[str]) -> dict:
    return _offload(pipeline.ingest_step, settings, run_id, batch_no, paths)


@task(name="deduplicate", **TASK_OPTIONS)
def dedupe_task(settings: Settings, plan: pipeline.Plan) -> dict:
    return pipeline.dedupe_step(settings, plan)


@task(name="extract-batch", **TASK_OPTIONS)
def extract_task(settings: Settings, run_id: str, part: str) -> dict:
    return _offload(pipeline.extract_step, settings, run_id, part)


@task(name="commit", **TASK_OPTIONS)
def commit_task(settings: Settings, plan: pipeline.Plan, flow_run_id: str | None, dedupe: dict) -> dict:
    return pipeline.commit_step(settings, plan, flow_run_id, dedupe)


@task(name="quality", **TASK_OPTIONS)
def quality_task(settings: Settings, run_id: str) -> dict:
    """Check the committed tables, write OUT/quality/ and show the verdict in the Prefect UI."""
    report = quality.run_quality(settings, run_id)
    create_markdown_artifact(key="coop-quality-verdict", markdown=quality.markdown(report), description=f"data quality of run {run_id}")
    create_table_artifact(key="coop-quality-checks", table=quality.check_rows(report), description=f"data-quality checks of run {run_id}")
    return {k: report[k] for k in ("run_id", "verdict", "summary")} | {"reason": quality.failure_reason(report) if report["verdict"] == "failed" else None}


def _results(futures) -> list:
    wait(futures)
    return [f.result() for f in futures]


def make_task_runner(name: str = "thread", dask_address: str | None = None, dask_workers: int = 2):
    """The task runner for `--task-runner`: Prefect's thread pool, or Dask (a local cluster of
    `dask_workers` single-threaded processes, or the existing cluster at `dask_address`)."""
    if name == "thread":
        return ThreadPoolTaskRunner(max_workers=TASK_THREADS)
    if name == "dask":
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError:
            raise ConfigError("--task-runner dask needs the dask extra: pip install 'coop-pipeline[dask]'") from None
        if dask_address:
            return DaskTaskRunner(address=dask_address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": dask_workers, "threads_per_worker": 1, "processes": True, "dashboard_address": None})
    raise ConfigError(f"unknown task runner {name!r}: choose thread or dask")


@flow(name="coop-pipeline", log_prints=False, persist_result=False, task_runner=ThreadPoolTaskRunner(max_workers=TASK_THREADS))
def coop_pipeline_flow(
    raw_dir: str = "raw",
    out_dir: str = "output",
    full: bool = False,
    batch_size: int = 500,
    workers: int | None = None,
    lock_wait: float = 5.0,
    max_file_bytes: int | None = None,
    max_quarantine_rate: float | None = None,
) -> dict:
    """One run over `raw_dir` into `out_dir`: incremental unless `full`.

    `workers` processes share the CPU-heavy tasks (default: one per core; 0 runs them in the task
    threads, as with Dask). `lock_wait` is how long to wait for another run on `out_dir` to finish.
    """
    pipeline.warm_up()
    limits = {"max_file_bytes": max_file_bytes, "quarantine_rate_threshold": max_quarantine_rate}
    settings = Settings(raw_dir=Path(raw_dir), out_dir=Path(out_dir), full=full, batch_size=batch_size,
                        **{k: v for k, v in limits.items() if v is not None})
    settings.check_raw_dir()
    logger = get_run_logger()
    store = Store(settings.out_dir)
    flow_run_id = str(flow_run.id) if flow_run.id else None
    workers = default_workers(workers)
    timings: dict[str, float] = {}
    with store.lock(lock_wait):
        clock = time.perf_counter()
        plan = pipeline.begin_run(settings, store, flow_run_id=flow_run_id)
        timings["plan"] = time.perf_counter() - clock
        try:
            clock = time.perf_counter()
            chunks = pipeline.batches(plan.to_process, settings.batch_size)
            # Worker processes pay off from two batches on; a small run is done before they start.
            if workers <= 1:
                stop_workers()
            elif len(chunks) >= 2:
                ensure_workers(workers)
            _results([ingest_task.submit(settings, plan.run_id, i, paths) for i, paths in enumerate(chunks)])
            timings["ingest"], clock = time.perf_counter() - clock, time.perf_counter()
            # The plan is quoted: Prefect would otherwise walk it (every file of the run) for futures to
            # resolve and again for inputs to record: about 4 s per task at 100,000 articles.
            dedupe = dedupe_task(settings, quote(plan))
            timings["dedupe"], clock = time.perf_counter() - clock, time.perf_counter()
            _results([extract_task.submit(settings, plan.run_id, part) for part in dedupe["parts"]])
            stop_workers()  # the commit and the quality check run here: the workers' memory is theirs now
            timings["extract"], clock = time.perf_counter() - clock, time.perf_counter()
            result = commit_task(settings, quote(plan), flow_run_id, dedupe)
            timings["commit"] = time.perf_counter() - clock
        except BaseException as exc:
            pipeline.fail_run(settings, plan, f"{type(exc).__name__}: {exc}", flow_run_id)
            raise
        clock = time.perf_counter()
        checked = quality_task(settings, plan.run_id)  # after the commit: the run's tables stay
        timings["quality"] = time.perf_counter() - clock
    logger.info("run %s: %s; data quality %s", plan.run_id, result["rows"], checked["verdict"])
    if checked["reason"]:
        # The tables and the report are written; the flow run ends Failed and the caller gets the
        # QualityError raised. Returning the state rather than raising spares the console Prefect's
        # traceback of an exception that is already a one-line reason.
        return Failed(message=checked["reason"], data=QualityError(checked["reason"]))
    return {"run_id": plan.run_id, "plan": plan.counts, "timings": timings, **result, "quality": checked["verdict"]}

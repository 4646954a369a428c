"""The main Prefect flow: raw articles in, validated Parquet tables out.

Prefect lives here only. Each task wraps a plain function of `coop_pipeline.pipeline` and works on a
batch of hundreds of articles; tasks hand each other file paths and small summaries.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import wait
from prefect.runtime import flow_run
from prefect.states import Failed

from coop_pipeline import pipeline, quality
from coop_pipeline.config import Settings
from coop_pipeline.errors import QualityError
from coop_pipeline.store import Store

TASK_OPTIONS = {"cache_policy": NO_CACHE, "persist_result": False}


@task(name="ingest-batch", **TASK_OPTIONS)
def ingest_task(settings: Settings, run_id: str, batch_no: int, paths: list[str]) -> dict:
    return pipeline.ingest_step(settings, run_id, batch_no, paths)


@task(name="deduplicate", **TASK_OPTIONS)
def dedupe_task(settings: Settings, plan: pipeline.Plan) -> dict:
    return pipeline.dedupe_step(settings, plan)


@task(name="extract-batch", **TASK_OPTIONS)
def extract_task(settings: Settings, run_id: str, part: str) -> dict:
    return pipeline.extract_step(settings, run_id, part)


@task(name="commit", **TASK_OPTIONS)
def commit_task(settings: Settings, plan: pipeline.Plan, flow_run_id: str | None) -> dict:
    return pipeline.commit_step(settings, plan, flow_run_id)


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


@flow(name="coop-pipeline", log_prints=False, persist_result=False)
def coop_pipeline_flow(raw_dir: str = "raw", out_dir: str = "output", full: bool = False, batch_size: int = 500) -> dict:
    """One run over `raw_dir` into `out_dir`: incremental unless `full`."""
    settings = Settings(raw_dir=Path(raw_dir), out_dir=Path(out_dir), full=full, batch_size=batch_size)
    settings.check_raw_dir()
    logger = get_run_logger()
    store = Store(settings.out_dir)
    flow_run_id = str(flow_run.id) if flow_run.id else None
    with store.lock():
        plan = pipeline.begin_run(settings, store, flow_run_id=flow_run_id)
        try:
            chunks = pipeline.batches(plan.to_process, settings.batch_size)
            _results([ingest_task.submit(settings, plan.run_id, i, paths) for i, paths in enumerate(chunks)])
            parts = dedupe_task(settings, plan)["parts"]
            _results([extract_task.submit(settings, plan.run_id, part) for part in parts])
            result = commit_task(settings, plan, flow_run_id)
        except BaseException as exc:
            pipeline.fail_run(settings, plan, f"{type(exc).__name__}: {exc}", flow_run_id)
            raise
        checked = quality_task(settings, plan.run_id)  # after the commit: the run's tables stay
    logger.info("run %s: %s; data quality %s", plan.run_id, result["rows"], checked["verdict"])
    if checked["reason"]:
        # The tables and the report are written; the flow run ends Failed and the caller gets the
        # QualityError raised. Returning the state rather than raising spares the console Prefect's
        # traceback of an exception that is already a one-line reason.
        return Failed(message=checked["reason"], data=QualityError(checked["reason"]))
    return {"run_id": plan.run_id, "plan": plan.counts, **result, "quality": checked["verdict"]}

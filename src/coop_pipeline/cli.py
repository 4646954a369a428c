"""Command line: `coop-pipeline run | serve | report | evaluate` (also `python -m coop_pipeline`).

Errors the pipeline raises on purpose become one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from coop_pipeline import __version__
from coop_pipeline.errors import PipelineError

EPILOG_RUN = """example:
  coop-pipeline run --raw raw --out output        # incremental: only new or changed files
  coop-pipeline run --full                        # reprocess everything
"""


EPILOG_SERVE = """needs a Prefect server (the embedded one does not schedule):
  prefect server start --host 127.0.0.1 &
  export PREFECT_API_URL=http://127.0.0.1:4200/api
  coop-pipeline serve --cron "0 * * * *" --raw raw --out output
"""


def quiet_prefect(verbose: bool) -> None:
    """Offline, quiet Prefect defaults, set before Prefect is imported; the user's settings win."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no internet here
    os.environ.setdefault("PREFECT_SERVER_API_HOST", "127.0.0.1")  # a server we start listens on loopback only
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")  # slow CI machines
    # Dask's cluster chatter. At "warning", a worker whose heartbeat races the local cluster's shutdown
    # logs a CommClosedError traceback on a healthy run; task failures reach us through Prefect anyway.
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "info" if verbose else "error")


EPILOG_REPORT = """example:
  coop-pipeline report --out output               # verdict and failing checks; exit 1 if a critical one failed
  (the full report: output/quality/latest.html and latest.json)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coop-pipeline", description="News about international cooperation in, validated Parquet tables out.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="one run of the main Prefect flow", epilog=EPILOG_RUN, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--raw", type=Path, default=Path("raw"), help="directory of raw article files (default: raw)")
    run.add_argument("--out", type=Path, default=Path("output"), help="output directory of Parquet tables (default: output)")
    run.add_argument("--full", action="store_true", help="reprocess every file, not only new or changed ones")
    run.add_argument("--batch-size", type=int, default=500, help="articles per Prefect task (default: 500)")
    run.add_argument("--wait", type=float, default=5.0, metavar="SECONDS", help="wait this long for another run on --out to finish (default: 5)")
    run.add_argument("--task-runner", choices=("thread", "dask"), default="thread", help="Prefect task runner (default: thread, with one worker process per core)")
    run.add_argument("--dask-address", default=None, metavar="ADDR", help="existing Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: a local cluster)")
    run.add_argument("--workers", type=int, default=None, help="worker processes (thread runner) or local Dask workers (default: one per core)")
    run.add_argument("--max-file-bytes", type=int, default=None, metavar="N", help="quarantine files larger than N bytes unread (default: 5000000)")
    run.add_argument("--max-quarantine-rate", type=float, default=None, metavar="SHARE", help="quality gate: share of raw files that may be quarantined before the run fails (default: 0.5)")
    run.add_argument("--verbose", action="store_true", help="show Prefect's own logs")
    serve = sub.add_parser("serve", help="serve the main flow as a scheduled Prefect deployment", epilog=EPILOG_SERVE, formatter_class=argparse.RawDescriptionHelpFormatter)
    when = serve.add_mutually_exclusive_group(required=True)
    when.add_argument("--cron", metavar="EXPR", help='cron schedule, e.g. "0 * * * *" (every hour)')
    when.add_argument("--interval", type=float, metavar="SECONDS", help="run every SECONDS")
    serve.add_argument("--raw", type=Path, default=Path("raw"), help="directory of raw article files (default: raw)")
    serve.add_argument("--out", type=Path, default=Path("output"), help="output directory of Parquet tables (default: output)")
    serve.add_argument("--wait", type=float, default=60.0, metavar="SECONDS", help="how long a scheduled run waits for another writer (default: 60)")
    serve.add_argument("--verbose", action="store_true", help="show Prefect's own logs")
    ev = sub.add_parser("evaluate", help="run the pipeline on DIR and score it against hand annotations", epilog=EPILOG_EVALUATE, formatter_class=argparse.RawDescriptionHelpFormatter)
    ev.add_argument("--raw", type=Path, required=True, help="directory of raw article files")
    ev.add_argument("--gold", type=Path, required=True, help="directory of gold annotation files (*.json)")
    ev.add_argument("--out", type=Path, default=None, help="output directory for the run (default: a temporary one)")
    ev.add_argument("--json", action="store_true", help="print the scores as JSON")
    ev.add_argument("--misses", type=Path, default=None, help="write every miss (JSON lines) to this file")
    report = sub.add_parser("report", help="print the latest data-quality summary", epilog=EPILOG_REPORT, formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("--out", type=Path, default=Path("output"), help="output directory of a run (default: output)")
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    from coop_pipeline.config import Settings
    from coop_pipeline.store import Store

    Settings(raw_dir=args.raw, out_dir=args.out, full=args.full, batch_size=args.batch_size).check_raw_dir()
    # The writer lock is taken before Prefect starts: a refused run says so in one line, at once.
    with Store(args.out).lock(args.wait, for_process=True):
        quiet_prefect(args.verbose)
        from coop_flows.launch import launch_run, start_server_now  # Prefect is imported only when a flow runs

        start_server_now()
        result = launch_run(args.raw, args.out, full=args.full, batch_size=args.batch_size, task_runner=args.task_runner,
                            dask_address=args.dask_address, workers=args.workers, lock_wait=args.wait,
                            max_file_bytes=args.max_file_bytes, max_quarantine_rate=args.max_quarantine_rate)
    counts, rows = result["plan"], result["rows"]
    print(
        f"run {result['run_id']} completed: {counts['seen']} files ({counts['new']} new, {counts['changed']} changed, "
        f"{counts['unchanged']} unchanged, {counts['removed']} removed), {result['quarantined']} quarantined"
    )
    print("tables in " + str(args.out) + ": " + ", ".join(f"{t} {n}" for t, n in rows.items()))
    print(f"data quality: {result['quality']} (see {args.out / 'quality' / 'latest.html'})")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from coop_pipeline.config import Settings

    Settings(raw_dir=args.raw, out_dir=args.out).check_raw_dir()
    quiet_prefect(args.verbose)
    from coop_flows.serve import serve

    serve(args.raw, args.out, cron=args.cron, interval=args.interval, lock_wait=args.wait)
    return 0


EPILOG_EVALUATE = """example:
  coop-pipeline evaluate --raw ../shared/corpus --gold ../shared/corpus/gold
  coop-pipeline evaluate --raw ../shared/corpus --gold ../shared/corpus/gold --json --misses misses.jsonl
"""


def cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from coop_pipeline.evaluate import evaluate, format_table

    for label, path in (("gold", args.gold), ("raw", args.raw)):
        if not path.is_dir():
            print(f"skipped: {label} directory {path} not found")
            return 0
    report = evaluate(args.raw, args.gold, args.out)
    result = report.as_dict()
    if args.misses:
        args.misses.write_text("".join(json.dumps(m, ensure_ascii=False) + "\n" for m in report.misses), encoding="utf-8")
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0




def cmd_report(args: argparse.Namespace) -> int:
    from coop_pipeline import quality

    report = quality.load_latest(args.out)
    print("\n".join(quality.summary_lines(report)))
    print(f"full report: {quality.report_dir(args.out) / 'latest.html'}")
    return 1 if report["verdict"] == "failed" else 0


COMMANDS = {"run": cmd_run, "serve": cmd_serve, "report": cmd_report, "evaluate": cmd_evaluate}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = COMMANDS[args.command](args)
        sys.stdout.flush()  # a reader gone away (`coop-pipeline report | head -1`) shows here, not at exit
        return code
    except BrokenPipeError:  # the work is done and the reader has what it wanted: no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's last flush would fail again
        return 141  # what a program stopped by SIGPIPE returns
    except PipelineError as exc:
        print(f"coop-pipeline {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"coop-pipeline {args.command}: interrupted", file=sys.stderr)
        return 130

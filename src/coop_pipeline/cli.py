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


def quiet_prefect(verbose: bool) -> None:
    """Offline, quiet Prefect defaults, set before Prefect is imported; the user's settings win."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no internet here
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")  # slow CI machines


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
    run.add_argument("--verbose", action="store_true", help="show Prefect's own logs")
    report = sub.add_parser("report", help="print the latest data-quality summary", epilog=EPILOG_REPORT, formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("--out", type=Path, default=Path("output"), help="output directory of a run (default: output)")
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    from coop_pipeline.config import Settings

    Settings(raw_dir=args.raw, out_dir=args.out, full=args.full, batch_size=args.batch_size).check_raw_dir()
    quiet_prefect(args.verbose)
    from coop_flows.main import coop_pipeline_flow  # Prefect is imported only when a flow runs

    result = coop_pipeline_flow(raw_dir=str(args.raw), out_dir=str(args.out), full=args.full, batch_size=args.batch_size)
    counts, rows = result["plan"], result["rows"]
    print(
        f"run {result['run_id']} completed: {counts['seen']} files ({counts['new']} new, {counts['changed']} changed, "
        f"{counts['unchanged']} unchanged, {counts['removed']} removed), {result['quarantined']} quarantined"
    )
    print("tables in " + str(args.out) + ": " + ", ".join(f"{t} {n}" for t, n in rows.items()))
    print(f"data quality: {result['quality']} (see {args.out / 'quality' / 'latest.html'})")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from coop_pipeline import quality

    report = quality.load_latest(args.out)
    print("\n".join(quality.summary_lines(report)))
    print(f"full report: {quality.report_dir(args.out) / 'latest.html'}")
    return 1 if report["verdict"] == "failed" else 0


COMMANDS = {"run": cmd_run, "report": cmd_report}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except PipelineError as exc:
        print(f"coop-pipeline {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"coop-pipeline {args.command}: interrupted", file=sys.stderr)
        return 130

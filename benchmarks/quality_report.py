"""Quality-report benchmark (not a test): what one data-quality report costs on an existing output.

    python benchmarks/quality_report.py OUT                       # the report of OUT's newest run
    python benchmarks/quality_report.py OUT --cold                # without the per-part cache
    python benchmarks/quality_report.py OUT --raw RAW --add 1000  # after an incremental run of +1,000 files
    python benchmarks/quality_report.py OUT --profile report.prof # with cProfile

OUT is changed (a report, its cache; with --add a run too): give it a copy. With `--add N`, N new
synthetic articles are written to RAW and committed by the pipeline's own steps (no Prefect), then the
report of that run is measured. The report runs in a fresh process, so its peak memory (maximum RSS)
is its own; CPU seconds (user + system) are the steadier figure on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def add_and_commit(raw: Path, out: Path, count: int) -> str:
    """Write `count` new synthetic articles after the last one in `raw` and run the pipeline's steps up
    to the commit, as `coop-pipeline run` does, without the report; returns the run id."""
    from synthetic import generate

    from coop_pipeline import pipeline
    from coop_pipeline.config import Settings
    from coop_pipeline.store import Store

    generate(raw, count, start=sum(1 for _ in raw.rglob("*") if _.is_file()))
    settings = Settings(raw_dir=raw, out_dir=out)
    store = Store(out)
    with store.lock():
        plan, _ = pipeline.run_steps(settings, store)
    return plan.run_id


def measure(out: Path, profile: Path | None) -> dict:
    """One report of OUT's newest run in this process: wall and CPU seconds, peak RSS. The pandera
    models are built first, untimed: in the flow process the extraction has already built them."""
    from coop_pipeline import quality
    from coop_pipeline.config import Settings
    from coop_pipeline.schemas import MODELS, empty_frame

    for table, model in MODELS.items():
        model.validate(empty_frame(table))
    settings = Settings(raw_dir=out, out_dir=out)
    clock, cpu = time.perf_counter(), time.process_time()
    if profile:
        import cProfile

        with cProfile.Profile() as prof:
            report = quality.run_quality(settings)
        prof.dump_stats(profile)
    else:
        report = quality.run_quality(settings)
    return {"seconds": round(time.perf_counter() - clock, 2), "cpu_seconds": round(time.process_time() - cpu, 2),
            "peak_rss_mib": round(peak_rss_kib() / 1024), "verdict": report["verdict"],
            "rows": report["row_counts"]}


def peak_rss_kib() -> int:
    """This process's peak resident memory. VmHWM, not getrusage's maximum, which a process started
    by fork and exec inherits from its parent (here: the process that ran the commit)."""
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--raw", type=Path, help="raw directory of OUT (needed with --add)")
    parser.add_argument("--add", type=int, default=0, help="new synthetic articles to commit before the report")
    parser.add_argument("--cold", action="store_true", help="delete the report's per-part cache first")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the report here")
    parser.add_argument("--no-report", action="store_true", help="only commit the --add files (to copy the output before its report)")
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_process:
        print(json.dumps(measure(args.out, args.profile)))
        return 0
    if args.add:
        if not args.raw:
            parser.error("--add needs --raw")
        clock = time.perf_counter()
        run_id = add_and_commit(args.raw, args.out, args.add)
        print(f"committed run {run_id} (+{args.add:,} files) in {time.perf_counter() - clock:.1f} s")
    if args.no_report:
        return 0
    if args.cold:
        from coop_pipeline.quality_parts import CACHE_DIR

        shutil.rmtree(args.out / "_store" / CACHE_DIR, ignore_errors=True)
    cmd = [sys.executable, __file__, str(args.out), "--in-process"] + (["--profile", str(args.profile)] if args.profile else [])
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"quality report{' (cold)' if args.cold else ''}: {figures['seconds']} s, {figures['cpu_seconds']} CPU-s, "
          f"peak RSS {figures['peak_rss_mib']} MiB, verdict {figures['verdict']}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())

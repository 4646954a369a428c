"""Throughput benchmark (not a test): N synthetic articles through the Prefect flow, end to end.

    python benchmarks/throughput.py --articles 20000

Prints articles/s end to end (Prefect import and start-up of its embedded server included, Python's
own start-up not) and per stage, the peak memory of the whole process tree (this process, Prefect's
server, the worker processes), of each process and of each stage, the Prefect overhead share, and the
cost of an incremental run that adds 1% new files, against the full run. Uses a private PREFECT_HOME
and a scratch directory.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import generate  # noqa: E402

STAGES = ("plan", "ingest", "dedupe", "extract", "commit", "quality")


def _role(proc: psutil.Process, me: psutil.Process) -> str:
    if proc.pid == me.pid:
        return "flow process"
    cmd = " ".join(proc.cmdline())
    if "uvicorn" in cmd:
        return "Prefect server"
    return f"worker {proc.pid}" if "spawn_main" in cmd else f"other {proc.pid}"


class StageClock:
    """Which stage of the flow runs now, told by the serial steps this process calls: their module
    functions are wrapped for the benchmark (the flow looks them up at call time). Ingest is what runs
    between the plan and the dedupe step, extraction what runs between dedupe and the commit."""

    STEPS = (("begin_run", "plan", "ingest"), ("dedupe_step", "dedupe", "extract"), ("commit_step", "commit", "before quality"))

    def __init__(self) -> None:
        self.stage = "start-up"

    def _wrap(self, module, name: str, during: str, after: str) -> None:
        original = getattr(module, name)

        def timed(*args, **kwargs):
            self.stage = during
            try:
                return original(*args, **kwargs)
            finally:
                self.stage = after

        setattr(module, name, timed)

    def install(self) -> "StageClock":
        from coop_pipeline import pipeline, quality

        for name, during, after in self.STEPS:
            self._wrap(pipeline, name, during, after)
        self._wrap(quality, "run_quality", "quality", "finish")
        return self


class PeakMemory:
    """Samples the resident memory of this process and all its descendants every 50 ms, with the
    stage that runs at the time (`clock`): the peak of the tree and of each process, overall and by stage.

    The process tree is looked up once a second: finding a process's descendants reads every
    process's /proc entry, which done every 50 ms cost this process about 8% of its CPU, taken from
    the run it measures."""

    def __init__(self, clock: StageClock | None = None) -> None:
        self.clock = clock
        self.by_stage: dict[str, dict[str, int]] = {}  # stage -> {"total" or role -> peak RSS}
        self.peak = 0
        self.cpu: dict[int, float] = {}  # pid -> CPU seconds (user + system) last seen
        self.by_process: dict[str, int] = {}  # role -> its own peak RSS
        self.roles: dict[int, str] = {}  # pid -> role
        me = psutil.Process()
        self._baseline = {p.pid: sum(p.cpu_times()[:2]) for p in [me, *me.children(recursive=True)]}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        tree: list[psutil.Process] = []
        for sample in itertools.count():
            if self._stop.is_set():
                break
            if sample % 20 == 0:
                tree = [me, *me.children(recursive=True)]
                for proc in tree:
                    with contextlib.suppress(psutil.Error):
                        self.roles.setdefault(proc.pid, _role(proc, me))
            total = 0
            stage = self.by_stage.setdefault(self.clock.stage if self.clock else "run", {})
            for proc in tree:
                try:
                    rss = proc.memory_info().rss
                    total += rss
                    self.cpu[proc.pid] = sum(proc.cpu_times()[:2])
                    role = self.roles.get(proc.pid, str(proc.pid))
                    self.by_process[role] = max(self.by_process.get(role, 0), rss)
                    kind = "worker" if role.startswith("worker") else role  # the workers' largest
                    stage[kind] = max(stage.get(kind, 0), rss)
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            stage["total"] = max(stage.get("total", 0), total)
            self._stop.wait(0.05)

    @property
    def cpu_seconds(self) -> float:
        """CPU time of the process tree during the measurement (children that ended early may be missed)."""
        return sum(v - self._baseline.get(pid, 0.0) for pid, v in self.cpu.items())

    @property
    def cpu_by_process(self) -> dict[str, float]:
        return {self.roles.get(pid, str(pid)): v - self._baseline.get(pid, 0.0) for pid, v in self.cpu.items()}

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def report_run(label: str, n_files: int, seconds: float, result: dict, peak: int | None, workers: int, cpu: float | None = None, memory: "PeakMemory | None" = None) -> dict:
    timings = result["timings"]
    inside = sum(timings.values())
    line = {"run": label, "files": n_files, "seconds": round(seconds, 2), "articles_per_s": round(n_files / seconds, 1)}
    print(f"\n{label}: {n_files:,} files in {seconds:.2f} s = {n_files / seconds:,.0f} articles/s end to end")
    for stage in STAGES:
        s = timings.get(stage, 0.0)
        rate = f"{n_files / s:,.0f} files/s" if s > 0 and stage in ("ingest", "extract") else ""
        print(f"  {stage:<8} {s:7.2f} s  {rate}")
        line[stage] = round(s, 3)
    outside = seconds - inside
    print(f"  Prefect outside the stages (import, server start-up, flow run bookkeeping): {outside:.2f} s = {outside / seconds:.0%} of the run")
    line["prefect_outside_share"] = round(outside / seconds, 3)
    if cpu is not None:
        print(f"  CPU time of the process tree: {cpu:.1f} s ({cpu / seconds:.2f} cores busy on average; other users share this machine)")
        line["cpu_seconds"] = round(cpu, 1)
    if peak is not None:
        print(f"  peak memory (process tree RSS): {peak / 2**20:,.0f} MiB")
        line["peak_rss_mib"] = round(peak / 2**20)
    if memory is not None:
        print("  peak RSS by process: " + ", ".join(f"{role} {rss / 2**20:,.0f} MiB" for role, rss in sorted(memory.by_process.items())))
        line["peak_rss_by_process_mib"] = {role: round(rss / 2**20) for role, rss in memory.by_process.items()}
        print("  CPU seconds by process: " + ", ".join(f"{role} {cpu:.1f}" for role, cpu in sorted(memory.cpu_by_process.items())))
        line["cpu_seconds_by_process"] = {role: round(cpu, 1) for role, cpu in memory.cpu_by_process.items()}
        if memory.clock:
            print("  peak RSS by stage (tree; flow process; largest worker):")
            for stage, peaks in memory.by_stage.items():
                print(f"    {stage:<15} {peaks.get('total', 0) / 2**20:6,.0f} MiB; {peaks.get('flow process', 0) / 2**20:5,.0f} MiB; {peaks.get('worker', 0) / 2**20:5,.0f} MiB")
            line["peak_rss_by_stage_mib"] = {stage: {k: round(v / 2**20) for k, v in peaks.items()} for stage, peaks in memory.by_stage.items()}
    return line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--incremental-share", type=float, default=0.01, help="new files added for the incremental run (default 1%%)")
    parser.add_argument("--recent-days", type=int, default=None,
                        help="date the incremental runs' new articles in the last N days of the span (default: at random over 17 years, "
                             "like the full run's; a new report dated before a stored cluster's first one renames it)")
    parser.add_argument("--chronological", action="store_true",
                        help="date articles in file order over the span, so the incremental runs' new articles are the newest news "
                             "(an archive read in date order, then hourly runs); default: every article at random over 17 years")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch directory (default: a new temporary one, deleted after)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    args = parser.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="coop-bench-"))
    raw, out = work / "raw", work / "out"
    shutil.rmtree(out, ignore_errors=True)
    os.environ.setdefault("PREFECT_HOME", str(work / "prefect-home"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")
    shutil.rmtree(raw, ignore_errors=True)  # the same files every time: N articles, nothing left over
    clock = time.perf_counter()
    per_span = args.articles if args.chronological else None
    size = generate(raw, args.articles, per_span=per_span)
    print(f"generated {args.articles:,} articles ({size / 1e6:.1f} MB) in {time.perf_counter() - clock:.1f} s under {raw}")
    if not (Path(os.environ["PREFECT_HOME"]) / "prefect.db").exists():
        # Prefect creates its database on the very first run under a PREFECT_HOME; that one-off cost
        # is not part of a run, so it is paid here, untimed, on an empty folder.
        (work / "empty").mkdir(exist_ok=True)
        subprocess.run([sys.executable, "-m", "coop_pipeline", "run", "--raw", str(work / "empty"), "--out", str(work / "empty-out")], check=True, capture_output=True)
    figures = []
    clock_of_stages = StageClock()
    with PeakMemory(clock_of_stages) as memory:
        clock = time.perf_counter()
        from coop_flows.launch import launch_run, start_server_now  # Prefect's import and start-up count, as in `coop-pipeline run`

        start_server_now()
        clock_of_stages.install()

        result = launch_run(raw, out, full=True, batch_size=args.batch_size, workers=args.workers)
        full_seconds = time.perf_counter() - clock
    figures.append(report_run("full run", args.articles, full_seconds, result, memory.peak, args.workers or os.cpu_count(), memory.cpu_seconds, memory))
    full_flow = sum(result["timings"].values())
    print(f"  rows: {json.dumps(result['rows'])}")

    added = max(1, int(args.articles * args.incremental_share))
    generate(raw, added, start=args.articles, recent_days=args.recent_days, per_span=per_span)
    clock_of_stages.stage = "start-up"
    with PeakMemory(clock_of_stages) as memory:
        clock = time.perf_counter()
        result = launch_run(raw, out, batch_size=args.batch_size, workers=args.workers)
        inc_seconds = time.perf_counter() - clock
    line = report_run(f"incremental run, same process (+{added:,} new files)", added, inc_seconds, result, memory.peak, args.workers or os.cpu_count(), memory.cpu_seconds, memory)
    inc_flow = sum(result["timings"].values())
    print(f"  cost against the full run: {inc_seconds / full_seconds:.1%} of its end-to-end time; "
          f"pipeline work {inc_flow:.2f} s = {inc_flow / full_flow:.1%} of the full run's {full_flow:.2f} s")
    line["share_of_full_end_to_end"] = round(inc_seconds / full_seconds, 4)
    line["share_of_full_pipeline_work"] = round(inc_flow / full_flow, 4)
    figures.append(line)

    generate(raw, added, start=args.articles + added, recent_days=args.recent_days, per_span=per_span)
    clock = time.perf_counter()
    cli = [sys.executable, "-m", "coop_pipeline", "run", "--raw", str(raw), "--out", str(out), "--batch-size", str(args.batch_size)]
    done = subprocess.run(cli, capture_output=True, text=True)
    cold = time.perf_counter() - clock
    print(f"\nincremental run as a new `coop-pipeline run` process (+{added:,} files): {cold:.2f} s = {cold / full_seconds:.1%} of the full run "
          f"(exit {done.returncode}; Python and Prefect start-up included)")
    figures.append({"run": "incremental, new process", "files": added, "seconds": round(cold, 2), "share_of_full_end_to_end": round(cold / full_seconds, 4)})
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

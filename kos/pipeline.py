"""`kos pipeline --once`: the whole pipeline over some files, one stage after the other, as the DAG runs it.

    kos pipeline --once [--path FILE ...] [--year Y] [--time-zone ZONE] [--bucket hour] [--out DIR]

Ships the files (default: ``[shipper] paths``) with ``kos-shipper --once``, runs the transform and
the load with ``spark-submit`` and the available-now trigger, then the metrics job over all stored
events and its report; prints one line per stage, the top service and process, and where the report
is. Every stage keeps its checkpoint, so running it again over the same files adds no row and says so.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kos import config as kos_config
from kos.text import printable, show_path

BIN = Path(sys.executable).parent


class StageFailed(RuntimeError):
    """A stage ended with an error; the message is its own last word."""


@dataclass(frozen=True)
class Stage:
    name: str
    argv: list[str]
    prefix: str  # the summary line the stage prints starts with this


def stages(cfg: kos_config.Config, paths: Sequence[str], year: int | None, time_zone: str, bucket: str,
           out: Path) -> list[Stage]:
    """The commands of the pipeline, in order."""
    project = cfg.project_dir

    def submit(job: str, *args: str) -> list[str]:
        return [str(BIN / "spark-submit"), "--master", cfg.spark.master, "--packages",
                ",".join(cfg.spark.job_packages(job)), str(project / "jobs" / f"{job}.py"), *args]

    parse = [*(["--year", str(year)] if year else []), "--time-zone", time_zone]
    ship = [sys.executable, "-m", "shipper", "--once", "--no-progress", *(a for p in paths for a in ("--path", p))]
    return [
        Stage("ship", ship, "kos-shipper: "),
        Stage("transform", submit("transform", "--available-now", *parse), "kos-transform: "),
        Stage("load", submit("load", "--available-now"), "kos-load: "),
        Stage("metrics", submit("metrics", "--bucket", bucket, "--out", str(out)), ""),
    ]


def run_stage(stage: Stage, env: dict[str, str]) -> str:
    """Run one stage; its summary line (or its whole output, for the metrics), StageFailed with its error."""
    done = subprocess.run(stage.argv, env=env, capture_output=True, text=True, errors="backslashreplace")
    if done.returncode != 0:
        errors = [line for line in (done.stderr + done.stdout).splitlines() if line.startswith(("kos", "Error"))]
        raise StageFailed(f"{stage.name} failed (exit status {done.returncode}): "
                          f"{errors[-1] if errors else (done.stderr.strip().splitlines() or ['no output'])[-1]}")
    if not stage.prefix:
        return done.stdout
    lines = [line for line in done.stdout.splitlines() if line.startswith(stage.prefix)]
    return lines[-1][len(stage.prefix):] if lines else "(no summary)"


def main(cfg: kos_config.Config, paths: Sequence[str], year: int | None, time_zone: str, bucket: str,
         out: str) -> int:
    files = list(paths) or list(cfg.shipper.paths)
    report = cfg.path(out)
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    print(f"== pipeline over {', '.join(show_path(f) for f in files)}", flush=True)
    results: dict[str, str] = {}
    try:
        for stage in stages(cfg, files, year, time_zone, bucket, report):
            results[stage.name] = run_stage(stage, env)
            if stage.name != "metrics":
                print(f"   {stage.name:<10}{printable(results[stage.name])}", flush=True)
    except StageFailed as exc:
        print(f"kos pipeline: {printable(str(exc))}", file=sys.stderr)
        return 1
    print(f"   {'metrics':<10}{summary(cfg, bucket)}")
    print(f"   report    {report / 'report.html'}")
    return 0


def summary(cfg: kos_config.Config, bucket: str) -> str:
    """The stored answers of the metrics run over all events: how many, the top service and process."""
    from jobs.database import Database
    from jobs.metrics_tables import UNBOUNDED_FROM, UNBOUNDED_TO, Period, fetch

    results = fetch(Database.from_config(cfg, "metrics"), Period(UNBOUNDED_FROM, UNBOUNDED_TO), bucket)
    if not results.events:
        return "no start events stored yet"
    (_, service, service_starts), (_, process, process_starts) = results.services[0], results.processes[0]
    return (f"{results.events} start events stored; top service {printable(service)!r} ({service_starts} starts), "
            f"top process {printable(process)!r} ({process_starts})")

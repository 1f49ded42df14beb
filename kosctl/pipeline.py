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
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kos import config as kos_config
from kos.errors import KosError
from kos.summary import read_summary
from kos.text import error_line, printable, show_path
from kosctl import commands

__all__ = ["Step", "StepFailed", "answers", "main", "run_step", "steps"]


class StepFailed(KosError):
    """A step ended with an error; the message is its own last word."""


@dataclass(frozen=True)
class Step:
    """One stage of the pipeline as `kos pipeline` runs it: a command, run to its end."""

    name: str
    argv: list[str]  # without --summary: each run gets a file of its own


def steps(cfg: kos_config.Config, paths: Sequence[str], year: int | None, time_zone: str, bucket: str,
           out: Path) -> list[Step]:
    """The commands of the pipeline, in order."""
    parse = [*(["--year", str(year)] if year else []), "--time-zone", time_zone]
    return [
        Step("ship", commands.ship(paths, "--once", "--no-progress")),
        Step("transform", commands.spark_submit(cfg, "transform", "--available-now", *parse)),
        Step("load", commands.spark_submit(cfg, "load", "--available-now")),
        Step("metrics", commands.spark_submit(cfg, "metrics", "--bucket", bucket, "--out", str(out))),
    ]


def run_step(step: Step, env: dict[str, str]) -> dict:
    """Run one step; its summary (``--summary``), StepFailed with its own last error line."""
    with tempfile.TemporaryDirectory(prefix="kos-pipeline-") as folder:
        summary_file = Path(folder) / "summary.json"
        argv = step.argv if step.name == "metrics" else [*step.argv, "--summary", str(summary_file)]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, errors="backslashreplace")
        if done.returncode != 0:
            errors = [line for line in (done.stderr + done.stdout).splitlines() if line.startswith(("kos", "Error"))]
            raise StepFailed(f"{step.name} failed (exit status {done.returncode}): "
                              f"{errors[-1] if errors else (done.stderr.strip().splitlines() or ['no output'])[-1]}")
        return read_summary(summary_file) or {}


def main(cfg: kos_config.Config, paths: Sequence[str], year: int | None, time_zone: str, bucket: str,
         out: str) -> int:
    files = list(paths) or list(cfg.shipper.paths)
    report = cfg.path(out)
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    print(f"== pipeline over {', '.join(show_path(f) for f in files)}", flush=True)
    try:
        for step in steps(cfg, files, year, time_zone, bucket, report):
            summary = run_step(step, env)
            if step.name != "metrics":
                print(f"   {step.name:<10}{printable(summary.get('line', '(no summary)'))}", flush=True)
    except StepFailed as exc:
        return error_line("kos pipeline", str(exc))
    print(f"   {'metrics':<10}{answers(cfg, bucket)}")
    print(f"   report    {report / 'report.html'}")
    return 0


def answers(cfg: kos_config.Config, bucket: str) -> str:
    """The stored answers of the metrics run over all events: how many, the top service and process."""
    from storage.database import Database
    from storage.metrics_tables import UNBOUNDED_FROM, UNBOUNDED_TO, Period, fetch

    results = fetch(Database.from_config(cfg, "metrics"), Period(UNBOUNDED_FROM, UNBOUNDED_TO), bucket)
    if not results.events:
        return "no start events stored yet"
    (_, service, service_starts), (_, process, process_starts) = results.services[0], results.processes[0]
    return (f"{results.events} start events stored; top service {printable(service)!r} ({service_starts} starts), "
            f"top process {printable(process)!r} ({process_starts})")

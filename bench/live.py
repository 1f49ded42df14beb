"""The pipeline running live for a benchmark: kos-shipper following one file, jobs/transform.py and jobs/load.py
with processing-time triggers, on scratch topics into the database kos_bench, each stage's resident memory
sampled while it runs. Used by bench/latency.py and bench/memory.py."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

from fixtures import BENCH_DB, ScratchTopics

from kos.config import Config
from storage.database import Database

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STAGES = ("shipper", "transform", "load")


def tree_rss(root: int) -> int:
    """Resident bytes of a process and all its descendants (Spark's Python workers are forked by a daemon that
    leaves the job's process group, so the group alone would miss them)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = dict(line.split(":", 1) for line in (entry / "status").read_text().splitlines() if ":" in line)
            parents[int(entry.name)] = int(status["PPid"])
            rss[int(entry.name)] = int(status.get("VmRSS", "0 kB").split()[0]) * 1024
        except (OSError, ValueError, KeyError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(rss.get(pid, 0) for pid in tree)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def batch_seconds(log: Path) -> dict[str, float]:
    """Median and 90th percentile of a job's micro-batch durations, from its progress lines."""
    seconds = [float(m.group(1)) for m in re.finditer(r" batch \d+: [\d,]+ rows in ([\d.]+) s", log.read_text())]
    if not seconds:
        return {}
    return {"batches": len(seconds), "p50": round(percentile(seconds, 50), 2), "p90": round(percentile(seconds, 90), 2)}


class LivePipeline:
    """Start with ``with``; ``rss[stage]`` holds (seconds since start, bytes) samples of each stage's process
    tree, every ``sample_seconds``; the jobs' logs are in ``folder``/<job>.log. Stopped with SIGTERM."""

    def __init__(self, cfg: Config, topics: ScratchTopics, follow: Path, folder: Path, trigger: str,
                 source_id: str, sample_seconds: float = 5.0) -> None:
        self.cfg, self.follow, self.folder, self.trigger = cfg, follow, folder, trigger
        self.sample_seconds = sample_seconds
        self.topics = {kind: topics.new(kind) for kind in ("raw", "parsed", "dl")}
        self.env = dict(os.environ, PYSPARK_PYTHON=sys.executable, KOS_KAFKA_RAW_TOPIC=self.topics["raw"],
                        KOS_KAFKA_PARSED_TOPIC=self.topics["parsed"], KOS_KAFKA_DEAD_LETTER_TOPIC=self.topics["dl"],
                        KOS_MYSQL_DATABASE=BENCH_DB,
                        KOS_SHIPPER_CHECKPOINT_DIR=str(folder / "shipper"), KOS_SHIPPER_SOURCE_ID=source_id,
                        KOS_SPARK_CHECKPOINT_DIR=str(folder / "checkpoints"))
        self.procs: dict[str, subprocess.Popen] = {}
        self.rss: dict[str, list[tuple[float, int]]] = {stage: [] for stage in STAGES}
        self._stop = threading.Event()
        self.started = 0.0

    def __enter__(self) -> LivePipeline:
        self.procs["shipper"] = subprocess.Popen(
            [sys.executable, "-m", "shipper", "--no-progress", "--path", str(self.follow)], cwd=PROJECT,
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        for job in ("transform", "load"):
            self.procs[job] = subprocess.Popen(
                [str(BIN / "spark-submit"), "--master", "local[2]", "--packages",
                 ",".join(self.cfg.spark.job_packages(job)), f"jobs/{job}.py", "--processing-time", self.trigger],
                # spark-submit hands the Python driver's stderr (its log) to its own stdout
                cwd=PROJECT, env=self.env, stdout=open(self.folder / f"{job}.log", "w"),  # noqa: SIM115
                stderr=subprocess.STDOUT, start_new_session=True)
        self.started = time.monotonic()
        threading.Thread(target=self._sample, daemon=True).start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.sample_seconds):
            at = time.monotonic() - self.started
            for stage, proc in self.procs.items():
                self.rss[stage].append((at, tree_rss(proc.pid)))

    def wait_for_rows(self, db: Database, count: int, timeout: float, where: str = "TRUE", params: tuple = ()
                      ) -> int:
        """Wait until process_events holds ``count`` rows matching ``where`` (at most ``timeout`` s); how many."""
        deadline = time.monotonic() + timeout
        while True:
            with db.connect() as conn:
                cur = conn.cursor()
                cur.execute(f"SELECT COUNT(*) FROM process_events WHERE {where}", params)
                (loaded,) = cur.fetchone()
            if loaded >= count or time.monotonic() > deadline:
                return loaded
            time.sleep(1)

    def batch_seconds(self) -> dict[str, dict[str, float]]:
        return {job: batch_seconds(self.folder / f"{job}.log") for job in ("transform", "load")}

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

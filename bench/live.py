"""`kos run` for a benchmark: the whole pipeline live, with `kos run`'s own defaults, following one file on
scratch topics into the database kos_bench, the memory of its process tree sampled every 5 s. Used by
bench/latency.py and bench/run.py.

Memory is PSS (``/proc/PID/smaps_rollup``: a page shared by n processes counts 1/n in each, so the sum over the
tree counts it once) and, beside it, the RSS sum (shared pages counted in every process that maps them)."""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from fixtures import BENCH_DB, ScratchTopics, truncate
from processes import tree

from kos.config import Config
from storage.database import Database

PROJECT = Path(__file__).resolve().parent.parent
KOS = Path(sys.executable).parent / "kos"


@dataclass(frozen=True)
class Memory:
    """One sample of a process tree: PSS and RSS summed over it, in bytes, and its number of processes."""

    at: float
    pss: int
    rss: int
    processes: int


def memory(root: int, at: float) -> Memory:
    pss = rss = count = 0
    for pid in tree(root):
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue  # ended meanwhile
        fields = {name: int(value.split()[0]) * 1024 for name, value in re.findall(r"^(\w+):\s+(\d+ kB)$", rollup,
                                                                                    re.MULTILINE)}
        pss, rss, count = pss + fields.get("Pss", 0), rss + fields.get("Rss", 0), count + 1
    return Memory(at, pss, rss, count)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def quarters(samples: list[Memory], kind: str) -> dict[str, int]:
    """Peak, first and last quarter's peaks of a memory series, in MiB, keyed ``<kind>_peak_mib`` and so on."""
    values = [getattr(s, kind) / 2**20 for s in samples]
    q = max(1, len(values) // 4)
    return {f"{kind}_peak_mib": round(max(values)), f"{kind}_first_quarter_mib": round(max(values[:q])),
            f"{kind}_last_quarter_mib": round(max(values[-q:]))}


def batch_seconds(output: str) -> dict[str, dict[str, float]]:
    """Per query of the application, the number, median and 90th percentile of its micro-batch durations, from
    its progress lines."""
    found: dict[str, list[float]] = {}
    for name, seconds in re.findall(r"(kos-\w+) batch \d+: [\d,]+ rows in ([\d.]+) s", output):
        found.setdefault(name, []).append(float(seconds))
    return {name: {"batches": len(s), "p50": round(statistics.median(s), 3), "p90": round(percentile(s, 90), 3)}
            for name, s in found.items()}


class KosRun:
    """`kos run --path LOG` on fresh scratch topics and an emptied kos_bench, in its own process group, its output
    in a file, its memory sampled every 5 s; stopped with SIGTERM (as a user's Ctrl-C) at the end."""

    def __init__(self, cfg: Config, topics: ScratchTopics, owner: Database, log: Path, folder: Path) -> None:
        self.cfg, self.owner, self.log, self.folder = cfg, owner, log, folder
        self.env = dict(os.environ, PYSPARK_PYTHON=sys.executable, KOS_MYSQL_DATABASE=BENCH_DB,
                        KOS_KAFKA_RAW_TOPIC=topics.new("raw"), KOS_KAFKA_PARSED_TOPIC=topics.new("parsed"),
                        KOS_KAFKA_DEAD_LETTER_TOPIC=topics.new("dl"), KOS_KAFKA_ALERTS_TOPIC=topics.new("alerts"),
                        KOS_STACK_STATE_DIR=str(folder / "state"), KOS_SPARK_CHECKPOINT_DIR=str(folder / "cp"),
                        KOS_SHIPPER_CHECKPOINT_DIR=str(folder / "shipper"))
        self.output = folder / "run.out"
        self.logs = folder / "state" / "logs"  # kos run's processes' own logs (<state_dir>/logs/<process>.log)
        self.samples: list[Memory] = []
        self._stop = threading.Event()
        self._began = 0.0

    def __enter__(self) -> KosRun:
        truncate(self.owner)
        self.proc = subprocess.Popen([str(KOS), "run", "--path", str(self.log)], cwd=PROJECT, env=self.env,
                                     stdout=open(self.output, "w"), stderr=subprocess.STDOUT,  # noqa: SIM115
                                     start_new_session=True)
        self._began = time.monotonic()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(5):
            self.samples.append(memory(self.proc.pid, time.monotonic() - self._began))

    def logged(self) -> str:
        """What kos run and its processes wrote: its own output and each process's log (the progress lines)."""
        return "\n".join(path.read_text(errors="replace")
                         for path in (self.output, *sorted(self.logs.glob("*.log"))) if path.exists())

    def check(self) -> None:
        """SystemExit with its last output if `kos run` ended."""
        if self.proc.poll() is not None:
            raise SystemExit(f"kos run ended ({self.proc.returncode}): {self.output.read_text()[-3000:]}")

    def rows(self, where: str = "TRUE", params: tuple = ()) -> int:
        with self.owner.connect() as conn:
            cur = conn.cursor()
            cur.execute(f"SELECT COUNT(*) FROM process_events WHERE {where}", params)
            return cur.fetchone()[0]

    def wait_for_rows(self, count: int, timeout: float, where: str = "TRUE", params: tuple = ()) -> None:
        deadline = time.monotonic() + timeout
        while (found := self.rows(where, params)) < count:
            self.check()
            if time.monotonic() > deadline:
                raise SystemExit(f"{found} of {count} rows within {timeout:.0f} s")
            time.sleep(0.5)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=300)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

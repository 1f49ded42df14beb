"""`kos run`: the pipeline running continuously: the shipper and KOS's Spark application, each a supervised child
process.

    kos run [--path P ...] [--year Y] [--time-zone Z]

Starts the shipper following its files and one Spark application (jobs/continuous.py) running the transform in
real-time mode, the load and the live query, which supervises its queries itself (kosctl/commands.py has both
commands). A process that exits is started again after a back-off that grows while it keeps failing
(kos/restarts.py; the checkpoints make everything resume exactly once), and the restart is said. A process that
exits more than ``[run] max_restarts`` times within ``[run] restart_window``, or a query the application gave up
on, stops everything: `kos run` ends with that one's own last error line and exit status 1. SIGTERM or Ctrl-C
stops both the way each stops on SIGTERM (the queries between batches where they can), then `kos run` exits 0.

With ``[run] metrics_port`` set it serves Prometheus metrics (kosctl/exporter.py); with ``[alerts]
alertmanager_url`` set it posts restart storms to Alertmanager (kosctl/alertmanager.py).

One `kos run` per state folder: a second one refuses with one line while the first runs. It also refuses, before
starting anything, a cluster that lacks one of the pipeline's topics (a query would fail on it much later). Its
state (processes, pids, restarts) is in ``<state_dir>/run/state.json`` for `kos status`; each process's output is in
``<state_dir>/logs/<process>.log``.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

from kafka.errors import KafkaError

from jobs.continuous import GAVE_UP
from kos.config import Config, seconds
from kos.errors import KosError
from kos.prometheus import serve
from kos.restarts import Restarts
from kos.text import error_line, printable
from kosctl import commands
from kosctl.alertmanager import Notifier
from kosctl.exporter import Exporter
from kosctl.stack.topics import missing_topics

__all__ = ["PROCESSES", "RunFailed", "Supervisor", "main", "process_commands"]

# The shipper, and the Spark application running the transform, the load and the live query.
PROCESSES = ("shipper", "spark")


class RunFailed(KosError):
    """A process kept failing, or the application gave up on a query; the message is its own last error line."""


def process_commands(cfg: Config, paths: Sequence[str], year: int | None, time_zone: str) -> dict[str, list[str]]:
    """Each process's command line."""
    parse = [*(["--year", str(year)] if year else []), "--time-zone", time_zone]
    return {"shipper": commands.ship(paths, "--no-progress"),
            "spark": commands.spark_submit(cfg, "continuous", *parse)}


@dataclass
class Process:
    """A supervised child process: its command, log, and what its supervisor knows of it."""

    name: str
    argv: list[str]
    log: Path
    restarts: Restarts
    pid: int | None = None
    started: float | None = None
    state: str = "starting"  # starting, running, waiting (to restart), stopped, failed
    last_exit: str = ""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    restart_at: float = 0.0

    def status(self) -> dict[str, Any]:
        """What `kos status` reads of the process."""
        return {"name": self.name, "pid": self.pid, "started": self.started, "restarts": self.restarts.restarts,
                "state": self.state, "last_exit": self.last_exit, "log": str(self.log)}


def last_error_line(log: Path) -> str:
    """The process's own last word in its log: the last line a KOS program printed (``kos...:``), else the last."""
    try:
        with open(log, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 65536))
            lines = [line.strip() for line in f.read().decode("utf-8", "backslashreplace").splitlines() if line.strip()]
    except OSError:
        return ""
    own = [line for line in lines if line.startswith("kos")]
    return (own or lines or [""])[-1]


class Supervisor:
    """Starts the processes, restarts those that exit, and stops them all on request or when one keeps failing."""

    def __init__(self, cfg: Config, argvs: dict[str, list[str]], env: dict[str, str], out: IO[str]) -> None:
        self.cfg = cfg
        self.env = env
        self.out = out
        self.folder = cfg.state_dir / "run"
        logs = cfg.state_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        window = seconds(cfg.run.restart_window)
        self.processes = {name: Process(name, argv, logs / f"{name}.log", Restarts(cfg.run.max_restarts, window))
                          for name, argv in argvs.items()}
        self.stopping = threading.Event()
        self.started = time.time()

    def say(self, text: str) -> None:
        print(f"kos run: {printable(text)}", file=self.out, flush=True)

    def start(self, process: Process) -> None:
        with open(process.log, "ab") as log:
            log.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S%z')} kos run starts {process.name}\n".encode())
            log.flush()
            process.process = subprocess.Popen(process.argv, cwd=self.cfg.project_dir, env=self.env, stdout=log,
                                               stderr=subprocess.STDOUT, start_new_session=True)
        process.pid, process.started, process.state = process.process.pid, time.time(), "running"
        self.save()

    def save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        state = {"pid": os.getpid(), "started": self.started,
                 "processes": [p.status() for p in self.processes.values()]}
        partial = self.folder / "state.json.partial"
        partial.write_text(json.dumps(state, indent=1))
        partial.replace(self.folder / "state.json")

    def check(self, process: Process, now: float) -> None:
        """Notice a process that exited; plan its restart, or give up on it."""
        if process.process is None or process.process.poll() is None:
            return
        status = process.process.returncode
        process.process = None
        process.last_exit = last_error_line(process.log)
        ran = now - (process.started or now)
        delay = None if status == GAVE_UP else process.restarts.failed(now, ran)
        if delay is None:
            process.state = "failed"
            self.save()
            if status == GAVE_UP:
                raise RunFailed(process.last_exit or f"{process.name} gave up")
            raise RunFailed(f"{process.name} exited {process.restarts.failures} times within "
                            f"{self.cfg.run.restart_window}, last with status {status}: "
                            f"{process.last_exit or 'no output'}")
        process.state, process.restart_at = "waiting", now + delay
        self.say(f"{process.name} exited with status {status} after {ran:.0f} s ({process.last_exit or 'no output'}); "
                 f"starting it again in {delay:.0f} s (restart {process.restarts.restarts}, log {process.log})")
        self.save()

    def run(self) -> None:
        for process in self.processes.values():
            self.start(process)
        self.say(f"running the shipper and the transform, load and live queries (logs in "
                 f"{self.cfg.state_dir / 'logs'}; `kos status` for more)")
        announced = 0.0
        while not self.stopping.wait(0.5):
            now = time.time()
            for process in self.processes.values():
                self.check(process, now)
                if process.state == "waiting" and now >= process.restart_at and not self.stopping.is_set():
                    self.start(process)
            announced = self.announce_interface(announced)

    def announce_interface(self, done: float) -> float:
        """Print the Spark UI's address once the application is up (its queries write it into their status
        files); the start of the run announced."""
        from kosctl.status import job_status

        spark = self.processes.get("spark")
        if spark is None or spark.state != "running" or (spark.started or 0.0) <= done:
            return done
        status = job_status(self.cfg, "transform") or {}
        if status.get("started", 0) >= (spark.started or 0.0) and status.get("ui"):
            self.say(f"Spark UI {status['ui']}")
            return spark.started or 0.0
        return done

    def stop(self, timeout: float = 180) -> None:
        """SIGTERM to each process (to a Spark application's Python driver, which stops its queries between
        batches: its JVM would stop the SparkContext under them), then wait; SIGKILL the process groups of what is
        left after ``timeout``."""
        self.stopping.set()
        running = [p for p in self.processes.values() if p.process is not None and p.process.poll() is None]
        for process in running:
            assert process.process is not None
            try:
                os.kill(python_driver(process.process.pid) or process.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        for process in running:
            assert process.process is not None
            try:
                process.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"{process.name} did not stop within {timeout:.0f} s: killing it")
                os.killpg(process.process.pid, signal.SIGKILL)
                process.process.wait()
        for process in self.processes.values():
            if process.state != "failed":
                process.state = "stopped"
            process.pid = None
        self.save()


def python_driver(jvm: int) -> int | None:
    """The Python driver spark-submit's JVM ``jvm`` started (its child running Python), or None."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            command = (stat.parent / "cmdline").read_bytes().split(b"\0")[0]
        except OSError:
            continue
        parent = int(text[text.rindex(")") + 2:].split()[1])
        if parent == jvm and b"python" in os.path.basename(command):
            return int(stat.parent.name)
    return None


def lock(cfg: Config) -> IO[str]:
    """Hold the state folder's run lock for as long as this process lives; KosError naming the holder if taken."""
    folder = cfg.state_dir / "run"
    folder.mkdir(parents=True, exist_ok=True)
    handle = open(folder / "kos-run.lock", "a+")  # noqa: SIM115 - held until the process ends
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        raise KosError(f"another `kos run` (pid {holder}) runs on the state in {cfg.state_dir}; stop it first "
                       "(SIGTERM or Ctrl-C)") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def check_topics(cfg: Config) -> str | None:
    """Why the pipeline cannot run on this cluster (a topic missing), or None. An unreachable cluster is not a reason:
    the processes wait for it and retry as they do when it goes away later."""
    try:
        missing = missing_topics(cfg)
    except KafkaError:
        return None
    if not missing:
        return None
    return (f"Kafka at {','.join(cfg.kafka.bootstrap_servers)} has no topic {', '.join(missing)}; create it "
            "(`kos stack start` creates the pipeline's topics on the local stack)")


def main(cfg: Config, paths: Sequence[str], year: int | None, time_zone: str) -> int:
    try:
        held = lock(cfg)
    except KosError as exc:
        return error_line("kos run", str(exc))
    if (reason := check_topics(cfg)) is not None:
        held.close()
        return error_line("kos run", reason)
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    supervisor = Supervisor(cfg, process_commands(cfg, paths, year, time_zone), env, sys.stdout)
    try:
        server = serve_metrics(cfg, supervisor)
    except KosError as exc:
        held.close()
        return error_line("kos run", str(exc))
    notifier = None
    if cfg.alerts.alertmanager_url:
        notifier = threading.Thread(target=Notifier(cfg, supervisor.say).run, args=(supervisor.stopping,),
                                    name="kos-alertmanager", daemon=True)
        notifier.start()

    def on_signal(signum: int, _frame: object) -> None:
        supervisor.say(f"{signal.Signals(signum).name} received: stopping everything")
        supervisor.stopping.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        supervisor.run()
        supervisor.stop()
        supervisor.say("stopped")
        return 0
    except RunFailed as exc:
        supervisor.stop()
        return error_line("kos run", str(exc))
    except BaseException:
        supervisor.stop()  # a bug of its own must not leave the processes running unsupervised
        raise
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if server is not None:
            server.shutdown()
        if notifier is not None:
            notifier.join(timeout=10)
        held.close()


def serve_metrics(cfg: Config, supervisor: Supervisor) -> ThreadingHTTPServer | None:
    """``/metrics`` on ``[run] metrics_port`` (none when 0)."""
    if not cfg.run.metrics_port:
        return None
    server = serve(cfg.run.metrics_host, cfg.run.metrics_port, Exporter(cfg).render,
                   "[run] metrics_port / KOS_RUN_METRICS_PORT")
    supervisor.say(f"metrics on http://{cfg.run.metrics_host}:{cfg.run.metrics_port}/metrics")
    return server

"""`kos run`: the pipeline running continuously, each stage a supervised child process.

    kos run [--path P ...] [--year Y] [--time-zone Z]

Starts the shipper following its files, the transform and the load on processing-time triggers, and the live
query (kosctl/stages.py has their commands). A stage that exits is started again after a back-off that grows
while it keeps failing (its checkpoint makes it resume exactly once), and the restart is logged. A stage that
exits more than ``[run] max_restarts`` times within ``[run] restart_window`` stops everything: `kos run`
ends with that stage's own last error line and exit status 1. SIGTERM or Ctrl-C stops every stage the way
each stops on SIGTERM (the jobs between batches where they can), then `kos run` exits 0.

One `kos run` per state folder: a second one refuses with one line while the first runs. It also refuses, before
starting anything, a cluster that lacks one of the pipeline's topics (a stage would fail on it much later). Its
state (stages, pids, restarts) is in ``<state_dir>/run/state.json`` for `kos status`; each stage's output is in
``<state_dir>/logs/<stage>.log``.
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
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from kafka.errors import KafkaError

from kos.config import Config, seconds
from kos.errors import KosError
from kos.text import error_line, printable
from kosctl import stages as commands
from kosctl.stack.topics import missing_topics

__all__ = ["RunFailed", "Supervisor", "main", "stage_commands"]

STAGES = ("shipper", "transform", "load", "live")


class RunFailed(KosError):
    """A stage kept failing; the message is its own last error line."""


def stage_commands(cfg: Config, paths: Sequence[str], year: int | None, time_zone: str) -> dict[str, list[str]]:
    """Each stage's command line."""
    parse = [*(["--year", str(year)] if year else []), "--time-zone", time_zone]
    trigger = ["--processing-time", cfg.run.trigger]
    return {
        "shipper": commands.ship(paths, "--no-progress"),
        "transform": commands.spark_submit(cfg, "transform", *trigger, *parse),
        "load": commands.spark_submit(cfg, "load", *trigger),
        "live": commands.spark_submit(cfg, "live", "--processing-time", cfg.live.trigger),
    }


@dataclass
class Stage:
    name: str
    argv: list[str]
    log: Path
    pid: int | None = None
    started: float | None = None
    restarts: int = 0
    state: str = "starting"  # starting, running, waiting (to restart), stopped, failed
    last_exit: str = ""
    failures: deque[float] = field(default_factory=deque, repr=False)  # when it exited, within the window
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    restart_at: float = 0.0

    def public(self) -> dict[str, Any]:
        """What `kos status` reads of the stage."""
        return {"name": self.name, "pid": self.pid, "started": self.started, "restarts": self.restarts,
                "state": self.state, "last_exit": self.last_exit, "log": str(self.log)}


def last_error_line(log: Path) -> str:
    """The stage's own last word in its log: the last line a KOS program printed (``kos...:``), else the last."""
    try:
        with open(log, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 65536))
            lines = [line.strip() for line in f.read().decode("utf-8", "backslashreplace").splitlines() if line.strip()]
    except OSError:
        return ""
    own = [line for line in lines if line.startswith("kos")]
    return (own or lines or [""])[-1]


class Supervisor:
    """Starts the stages, restarts those that exit, and stops them all on request or when one keeps failing."""

    def __init__(self, cfg: Config, argvs: dict[str, list[str]], env: dict[str, str], out: IO[str]) -> None:
        self.cfg = cfg
        self.env = env
        self.out = out
        self.folder = cfg.state_dir / "run"
        logs = cfg.state_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.stages = {name: Stage(name, argv, logs / f"{name}.log") for name, argv in argvs.items()}
        self.stopping = threading.Event()
        self.started = time.time()
        self.window = seconds(cfg.run.restart_window)

    def say(self, text: str) -> None:
        print(f"kos run: {printable(text)}", file=self.out, flush=True)

    def start(self, stage: Stage) -> None:
        with open(stage.log, "ab") as log:
            log.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S%z')} kos run starts {stage.name}\n".encode())
            log.flush()
            stage.process = subprocess.Popen(stage.argv, cwd=self.cfg.project_dir, env=self.env, stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True)
        stage.pid, stage.started, stage.state = stage.process.pid, time.time(), "running"
        self.save()

    def save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        state = {"pid": os.getpid(), "started": self.started, "stages": [s.public() for s in self.stages.values()]}
        partial = self.folder / "state.json.partial"
        partial.write_text(json.dumps(state, indent=1))
        partial.replace(self.folder / "state.json")

    def check(self, stage: Stage, now: float) -> None:
        """Notice a stage that exited; plan its restart, or give up on it."""
        if stage.process is None or stage.process.poll() is None:
            return
        status = stage.process.returncode
        stage.process = None
        stage.last_exit = last_error_line(stage.log)
        ran = now - (stage.started or now)
        stage.failures.append(now)
        while stage.failures and stage.failures[0] < now - self.window:
            stage.failures.popleft()
        if len(stage.failures) > self.cfg.run.max_restarts:
            stage.state = "failed"
            self.save()
            raise RunFailed(f"{stage.name} exited {len(stage.failures)} times within {self.cfg.run.restart_window}, "
                            f"last with status {status}: {stage.last_exit or 'no output'}")
        # Back-off: doubling while the stage keeps failing soon after it starts, from nothing after a long run.
        quick = sum(1 for t in stage.failures if t >= now - 120)
        delay = 0.0 if ran > 120 else min(60.0, 2.0 ** (quick - 1))
        stage.state, stage.restart_at, stage.restarts = "waiting", now + delay, stage.restarts + 1
        self.say(f"{stage.name} exited with status {status} after {ran:.0f} s ({stage.last_exit or 'no output'}); "
                 f"starting it again in {delay:.0f} s (restart {stage.restarts}, log {stage.log})")
        self.save()

    def run(self) -> None:
        for stage in self.stages.values():
            self.start(stage)
        self.say(f"running {', '.join(self.stages)} (logs in {self.cfg.state_dir / 'logs'}; `kos status` for more)")
        announced: set[tuple[str, float]] = set()
        while not self.stopping.wait(0.5):
            now = time.time()
            for stage in self.stages.values():
                self.check(stage, now)
                if stage.state == "waiting" and now >= stage.restart_at and not self.stopping.is_set():
                    self.start(stage)
            announced |= self.announce_interfaces(announced)

    def announce_interfaces(self, done: set[tuple[str, float]]) -> set[tuple[str, float]]:
        """Print each job's Spark UI address once its run is up (each job writes it into its status file)."""
        from kosctl.status import job_status

        found = set()
        for stage in self.stages.values():
            run = (stage.name, stage.started or 0.0)
            if stage.name == "shipper" or stage.state != "running" or run in done:
                continue
            status = job_status(self.cfg, stage.name) or {}
            if status.get("started", 0) >= run[1] and status.get("ui"):
                self.say(f"{stage.name}: Spark UI {status['ui']}")
                found.add(run)
        return found

    def stop(self, timeout: float = 180) -> None:
        """SIGTERM to every stage's process group, then wait; SIGKILL what is left after ``timeout``."""
        self.stopping.set()
        running = [s for s in self.stages.values() if s.process is not None and s.process.poll() is None]
        for stage in running:
            os.killpg(stage.process.pid, signal.SIGTERM)  # type: ignore[union-attr]
        deadline = time.monotonic() + timeout
        for stage in running:
            assert stage.process is not None
            try:
                stage.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"{stage.name} did not stop within {timeout:.0f} s: killing it")
                os.killpg(stage.process.pid, signal.SIGKILL)
                stage.process.wait()
        for stage in self.stages.values():
            stage.state, stage.pid = "stopped", None
        self.save()


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
    """Why the stages cannot run on this cluster (a topic missing), or None. An unreachable cluster is not a reason:
    the stages wait for it and retry as they do when it goes away later."""
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
    supervisor = Supervisor(cfg, stage_commands(cfg, paths, year, time_zone), env, sys.stdout)

    def on_signal(signum: int, _frame: object) -> None:
        supervisor.say(f"{signal.Signals(signum).name} received: stopping every stage")
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
        supervisor.stop()  # a bug of its own must not leave the stages running unsupervised
        raise
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        held.close()

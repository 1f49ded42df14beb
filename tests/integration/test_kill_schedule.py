"""A seeded random schedule of faults: 20 rounds of `kill -9` of a random stage (shipper, transform, load) at a
random moment of its run (0.5 to 5 s after it started working: a job after its first micro-batch, so that the
kill lands among its batches, not in its start-up), while a syslog grows to 240,000 lines and is rotated three
times the way logrotate does it.
Afterwards each event line is one row, each unparseable candidate is in kos-dead-letter, and `kos audit` finds
every file whole.

The seed is printed (and named in every failure); `KOS_TEST_KILL_SEED=<seed>` replays the same schedule."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.support.kafka import read_topic
from tests.support.pipeline import RunningJobs, rows
from tests.support.submit import BIN, PROJECT

STAGES = ("shipper", "transform", "load")
IMPOSSIBLE = b"2026-02-30T25:61:00+00:00 web-01 systemd[1]: Started Impossible %d."
FILLER = b"2026-03-02T00:00:00+00:00 web-01 systemd[1]: Started Filler %d."


def kill_schedule(seed: int, rounds: int = 20) -> list[tuple[float, str]]:
    """(seconds to wait once the stage works, stage to kill) for each round: each stage killed in a third of the
    rounds, in random order, at random moments."""
    rng = random.Random(seed)
    stages = [STAGES[i % len(STAGES)] for i in range(rounds)]
    rng.shuffle(stages)
    return [(round(rng.uniform(0.5, 5.0), 2), stage) for stage in stages]


def test_a_seed_gives_one_schedule():
    assert kill_schedule(7) == kill_schedule(7) != kill_schedule(8)
    assert len(kill_schedule(7)) == 20
    assert sorted(Counter(stage for _, stage in kill_schedule(7)).values()) == [6, 7, 7]
    assert all(0.5 <= wait <= 5.0 for wait, _ in kill_schedule(7))


class GrowingLog(threading.Thread):
    """Appends ``lines`` to ``path`` a chunk every ``pause`` seconds (all at once after ``hurry`` is set), and
    every ``rotate_every`` lines rotates the way logrotate does (path.2 -> path.3, path.1 -> path.2, path ->
    path.1, then a new path). Should the schedule outlast the lines, it goes on appending ``FILLER`` start events
    (counted in ``filler``) until hurried: a job restarted late must still find batches to work on."""

    def __init__(self, path: Path, lines: list[bytes], chunk: int = 1000, pause: float = 1.0,
                 rotate_every: int = 60_000) -> None:
        super().__init__(daemon=True)
        self.path, self.lines, self.chunk, self.pause, self.rotate_every = path, lines, chunk, pause, rotate_every
        self.error: BaseException | None = None
        self.hurry = threading.Event()
        self.filler = 0
        self._append(0)

    def _append(self, start: int) -> None:
        with open(self.path, "ab") as f:
            f.write(b"".join(line + b"\n" for line in self.lines[start:start + self.chunk]))

    def _rotate(self) -> None:
        for older, newer in ((3, 2), (2, 1)):
            if Path(f"{self.path}.{newer}").exists():
                os.rename(f"{self.path}.{newer}", f"{self.path}.{older}")
        os.rename(self.path, f"{self.path}.1")

    def run(self) -> None:
        try:
            for start in range(self.chunk, len(self.lines), self.chunk):
                self.hurry.wait(self.pause)
                if start % self.rotate_every == 0:
                    self._rotate()
                self._append(start)
            while not self.hurry.wait(self.pause):
                with open(self.path, "ab") as f:
                    f.write(b"".join(FILLER % (self.filler + i) + b"\n" for i in range(10)))
                self.filler += 10
        except BaseException as exc:  # re-raised by files()
            self.error = exc

    def files(self) -> list[Path]:
        """The files it wrote, once it is done (it hurries from now on)."""
        self.hurry.set()
        self.join()
        if self.error:
            raise self.error
        return [p for p in (self.path, *(Path(f"{self.path}.{n}") for n in (1, 2, 3))) if p.exists()]


def syslog_lines(folder: Path, count: int) -> tuple[list[bytes], int, int]:
    """``count`` generated lines, one in 20,000 of them an unparseable candidate; with their numbers of start
    events and of dead letters."""
    source = folder / "source"
    subprocess.run([sys.executable, "-m", "kosctl.synthetic", str(source), "--lines", str(count), "--events", "0.1",
                    "--seed", "13", "--rfc3339"], check=True, cwd=PROJECT)
    lines = source.read_bytes().split(b"\n")[:count]
    for i in range(10_000, count, 20_000):
        lines[i] = IMPOSSIBLE % i
    dead = len(range(10_000, count, 20_000))
    events = sum(1 for line in lines if b"]: Started " in line or b"Successfully activated" in line) - dead
    return lines, events, dead


@pytest.mark.integration
@pytest.mark.slow
def test_a_seeded_schedule_of_kill_9_while_the_log_grows_and_rotates(cfg, pipeline_env, db, tmp_path):
    seed = int(os.environ.get("KOS_TEST_KILL_SEED") or random.SystemRandom().randrange(2**32))
    schedule = kill_schedule(seed)
    replay = f"seed {seed} (replay: KOS_TEST_KILL_SEED={seed})"
    print(f"kill schedule, {replay}: {schedule}")
    lines, events, dead = syslog_lines(tmp_path, 240_000)
    (tmp_path / "log").mkdir()
    log = tmp_path / "log" / "syslog"
    env = {**pipeline_env, "KOS_SHIPPER_ROTATED": "{path}.1,{path}.2"}
    writer = GrowingLog(log, lines)
    with RunningJobs(env, tmp_path, follow=log, max_offsets_per_trigger=5000) as stages:
        writer.start()
        for wait, stage in schedule:
            stages.wait_until_working(stage)
            time.sleep(wait)
            stages.kill(stage)
        files = writer.files()
        events += writer.filler
        stages.wait_for_rows(db, events, timeout=900)
        deadline = time.monotonic() + 300
        while len(read_topic(tuple(cfg.kafka.bootstrap_servers), env["KOS_KAFKA_DEAD_LETTER_TOPIC"])) < dead:
            assert time.monotonic() < deadline, replay
            time.sleep(2)
    assert stages.kills == {stage: sum(1 for _, s in schedule if s == stage) for stage in STAGES}, replay
    assert rows(db) == (events, events), (replay, stages.restarts)
    assert len(files) == 4, replay

    audit = subprocess.run([str(BIN / "kos"), "audit", *map(str, files)], env=env, cwd=PROJECT,
                           capture_output=True, text=True, timeout=600)
    assert audit.returncode == 0, (replay, audit.stdout, audit.stderr[-3000:])
    said = audit.stdout.splitlines()
    assert [line.split(" [")[0].split()[-1] for line in said] == list(map(str, files)), said
    counts = [tuple(int(n) for n in re.findall(r"(\d+) (?:start events expected|rows present|dead letters expected)",
                                                line)) for line in said]
    assert [sum(c[i] for c in counts) for i in range(3)] == [events, events, dead], (replay, said)
    assert all(line.startswith("OK ") and line.endswith("; 0 events not shipped yet") for line in said), said
    print(f"{replay}: {events} events ({writer.filler} of them filler), {dead} dead letters in {len(files)} files; "
          f"kills {stages.kills}; "
          f"stages that stopped on their own: {stages.restarts}")

"""Random bytes through the whole pipeline: 100,000 lines of NULs, invalid UTF-8, escape sequences and 1 MiB
lines, with start events and impossible candidates among them (kosctl/synthetic.py --random-bytes). Nothing
crashes, every event is one row, every impossible candidate one dead letter with its bytes and reason."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jobs.load import LOAD
from jobs.transform import TRANSFORM
from tests.support.kafka import DeadLetter, read_topic
from tests.support.pipeline import rows, ship
from tests.support.submit import PROJECT

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_random_bytes_lines_give_exactly_their_events_and_dead_letters(cfg, pipeline_env, in_session, db, tmp_path):
    log = tmp_path / "random.log"
    lines = 100_000
    subprocess.run([sys.executable, "-m", "kosctl.synthetic", str(log), "--lines", str(lines), "--random-bytes",
                    "--seed", "9"], check=True, cwd=PROJECT)
    ship(pipeline_env, log)
    transformed = in_session(TRANSFORM, "--available-now")
    assert (transformed["candidates"], transformed["events"], transformed["dead_letters"]) == (
        lines // 50, lines // 100, lines // 100)
    loaded = in_session(LOAD, "--available-now")
    assert (loaded["added"], loaded["present"], loaded["dead_letters"]) == (lines // 100, 0, 0)
    assert rows(db) == (lines // 100, lines // 100)
    with db.connect() as conn:
        cur = conn.cursor()
        cur.execute("SELECT service FROM process_events")
        assert sorted(r[0] for r in cur.fetchall()) == sorted(f"Random Probe {i}" for i in range(0, lines, 100))
    dead = [DeadLetter.FromString(r.value) for r in read_topic(tuple(cfg.kafka.bootstrap_servers),
                                                          pipeline_env["KOS_KAFKA_DEAD_LETTER_TOPIC"])]
    assert sorted(d.data for d in dead) == sorted(
        f"2026-13-45T99:00:00Z host systemd[1]: Started Impossible {i}.".encode() for i in range(50, lines, 100))
    assert {d.stage for d in dead} == {"transform"} and all(d.reason for d in dead)

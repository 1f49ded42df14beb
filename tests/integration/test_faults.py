"""Exactly once through transform and load, on the real stack, whatever fails: `kill -9` of the transform
mid-batch (in micro-batches and in real-time mode, restarted with another trigger on the same checkpoint), `kill -9`
of the load between its write and its commit and between its commit and Spark's, MariaDB stopped under a running
load, the broker stopped under running jobs. Afterwards every event line is in process_events exactly once.

The processes that are killed or stopped are `spark-submit`s of their own, as `kos job` starts them; what runs
before and after them (a restart on the same checkpoint, the other job) runs in the test session's JVM."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from jobs.load import LOAD
from jobs.transform import TRANSFORM
from tests.support.fault_points import KILL_AT
from tests.support.kafka import DeadLetter, produce, read_topic
from tests.support.pipeline import RunningJobs, finish, job, records_in, rows, running, ship, write_log

pytestmark = [pytest.mark.integration, pytest.mark.slow]

def test_kill_9_of_the_transform_mid_batch_then_restart(pipeline_env, in_session, db, tmp_path):
    """Killed inside a micro-batch of a processing-time query (its offsets logged, its commit not), the transform
    restarted with another trigger (as the DAG's --available-now follows `kos run`) runs that batch again from the
    checkpoint; the load then makes each event one row."""
    log = tmp_path / "syslog"
    events = write_log(log, 400_000, seed=7)
    ship(pipeline_env, log)
    # Small batches back to back, so that the kill lands with some recorded and the next ones running.
    with running(job("transform", pipeline_env, "--processing-time", "0 seconds",
                     KOS_SPARK_MAX_OFFSETS_PER_TRIGGER="20")) as proc:
        deadline = time.monotonic() + 300
        output = []
        for line in proc.stdout:  # type: ignore[union-attr]
            output.append(line)
            if "kos-transform batch 2:" in line:
                break
            assert time.monotonic() < deadline, "".join(output)[-3000:]
        checkpoint = Path(pipeline_env["KOS_SPARK_CHECKPOINT_DIR"]) / "transform"
        while (batch := running_batch(checkpoint)) is None:  # until a batch's offsets are logged, its commit not
            assert time.monotonic() < deadline and proc.poll() is None, "".join(output)[-3000:]
            time.sleep(0.001)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert running_batch(checkpoint) == batch, "the batch ended before the kill reached it"
    in_session(TRANSFORM, "--available-now")
    assert (checkpoint / "commits" / str(batch)).exists()  # the killed batch, run again and committed this time
    in_session(LOAD, "--available-now")
    assert rows(db) == (events, events)


def test_kill_9_of_the_transform_in_real_time_mode_then_restart_with_available_now(cfg, pipeline_env, in_session, db,
                                                                                   tmp_path):
    """Killed in real-time mode (as `kos run` runs it) after it wrote records of a batch it had not committed, the
    transform restarted on the same checkpoint with --available-now (as the DAG runs it) writes that batch's records
    again; the load stores each event once."""
    from kos.kafka_client import python_settings

    log = tmp_path / "syslog"
    events = write_log(log, 100_000, seed=8)
    ship(pipeline_env, log)
    parsed = pipeline_env["KOS_KAFKA_PARSED_TOPIC"]
    checkpoint = Path(pipeline_env["KOS_SPARK_CHECKPOINT_DIR"]) / "transform"
    with running(job("transform", pipeline_env, "--real-time", "1 minute", output=tmp_path / "rtm.log")) as proc:
        deadline = time.monotonic() + 300
        while records_in(python_settings(cfg), parsed) < events // 2:  # written, the batch not committed
            assert time.monotonic() < deadline and proc.poll() is None, (tmp_path / "rtm.log").read_text()[-3000:]
            time.sleep(0.2)
        assert not (checkpoint / "commits" / "0").exists()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    written_before = records_in(python_settings(cfg), parsed)
    restarted = in_session(TRANSFORM, "--available-now")
    assert restarted.get("events") == events, restarted["line"]  # the whole uncommitted batch, written again
    assert records_in(python_settings(cfg), parsed) == written_before + events
    loaded = in_session(LOAD, "--available-now")
    assert (loaded.get("added"), loaded.get("present", 0)) == (events, written_before), loaded["line"]
    assert rows(db) == (events, events)


def running_batch(checkpoint: Path) -> int | None:
    """The micro-batch that Spark's checkpoint shows as started and not ended: the last in its offset log when the
    commit log does not have it."""
    logged = [int(p.name) for p in (checkpoint / "offsets").glob("[0-9]*")]
    if not logged:
        return None
    last = max(logged)
    return None if (checkpoint / "commits" / str(last)).exists() else last


@pytest.mark.parametrize("window", ["written", "committed"])
def test_kill_9_of_the_load_in_either_window_then_restart(cfg, pipeline_env, in_session, db, tmp_path, window):
    """The load writes a batch's rows and its ledger row in one transaction, and sends the batch's dead letters
    after its commit. written: rows and ledger row are written, not committed, when the job is killed: nothing is
    stored, and the restart adds every row. committed: they are committed and Spark has not recorded the batch:
    the restart runs the batch again, finds it in the ledger and adds nothing. Either way each event is one row,
    and the killed batch's three records that are not events are each one dead letter, sent by the restart."""
    log = tmp_path / "syslog"
    events = write_log(log, 60_000, seed=11)
    ship(pipeline_env, log)
    in_session(TRANSFORM, "--available-now")
    parsed, dead = pipeline_env["KOS_KAFKA_PARSED_TOPIC"], pipeline_env["KOS_KAFKA_DEAD_LETTER_TOPIC"]
    garbage = [b"not a protobuf \xff", b"\x08", b""]
    produce(cfg, parsed, [(value, []) for value in garbage])
    crashed = job("load", pipeline_env, "--available-now", **{KILL_AT: window})
    finish(crashed)
    assert crashed.returncode == -signal.SIGKILL
    stored, _ = rows(db)
    assert rows(db) == ((0, 0) if window == "written" else (events, events))
    assert read_topic(cfg.kafka.bootstrap_servers, dead) == []
    again = in_session(LOAD, "--available-now")
    assert (again.get("added", 0), again.get("present", 0), again.get("dead_letters")) == \
        (events - stored, stored, len(garbage)), again["line"]
    assert rows(db) == (events, events)
    letters = [DeadLetter.FromString(r.value) for r in read_topic(cfg.kafka.bootstrap_servers, dead)]
    assert sorted((letter.data, letter.stage) for letter in letters) == sorted((g, "load") for g in garbage)


def test_mariadb_stopped_under_a_running_load_then_back(pipeline_env, in_session, db, mariadb, tmp_path):
    log = tmp_path / "syslog"
    first = write_log(log, 20_000, seed=3)
    ship(pipeline_env, log)
    in_session(TRANSFORM, "--available-now")
    with running(job("load", pipeline_env, "--processing-time", "2 seconds")) as proc:
        deadline = time.monotonic() + 300
        while rows(db)[0] < first:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(1)
        mariadb.stop()
        try:
            more = tmp_path / "more"
            second = write_log(more, 20_000, seed=4)
            ship(pipeline_env, more)
            in_session(TRANSFORM, "--available-now")
            out = finish(proc, timeout=600)  # the next batch cannot reach MySQL: the query ends, saying why
            assert proc.returncode == 1, out[-3000:]
            said = [line for line in out.splitlines() if line.startswith("kos-load:")]
            assert said and said[-1].startswith("kos-load: kos-load stopped: cannot connect to MySQL at 127.0.0.1:"), \
                out[-3000:]
        finally:
            mariadb.start()
    again = in_session(LOAD, "--available-now")
    assert (again.get("added"), again.get("present", 0)) == (second, 0), again["line"]
    assert rows(db) == (first + second, first + second)


def test_the_broker_stopped_and_restarted_under_running_jobs(pipeline_env, db, kafka, tmp_path):
    """Transform and load run with processing-time triggers while the only broker is stopped mid-stream for 10 s and
    started again. A job may ride it out or end with one clear line (then it is started again, as Airflow or a
    supervisor would); either way each event is one row in the end."""
    log = tmp_path / "syslog"
    first = write_log(log, 200_000, seed=5)
    ship(pipeline_env, log)
    with RunningJobs(pipeline_env, tmp_path) as jobs:
        jobs.wait_for_rows(db, 1)
        assert {name: proc.poll() for name, proc in jobs.procs.items()} == {"transform": None, "load": None}
        kafka.stop()  # under both running jobs (the rows after it come from the second file at the latest)
        time.sleep(10)  # the outage itself, not a wait for anything
        kafka.start()
        more = tmp_path / "more"
        second = write_log(more, 20_000, seed=6)
        ship(pipeline_env, more)
        jobs.wait_for_rows(db, first + second)
    assert rows(db) == (first + second, first + second)
    print(jobs.restarts)  # for the record: which job restarted, and why

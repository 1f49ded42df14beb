"""The shipper's command line on paths it cannot ship: one clear sentence, exit status 1, no traceback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[3]


def ship(path: str, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = dict(os.environ, PYTHONPATH=str(PROJECT), KOS_SHIPPER_CHECKPOINT_DIR=str(tmp_path / "cp"),
                   KOS_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1",  # never reached: refused first
                   KOS_SHIPPER_REQUEST_TIMEOUT_MS="5000", **env)  # how long "no broker answers" takes to say
    return subprocess.run([sys.executable, "-m", "shipper", "--once", "--path", path, *args], env=environ,
                          capture_output=True, text=True, timeout=60)


def make_fifo(tmp_path: Path) -> str:
    os.mkfifo(tmp_path / "fifo")
    return str(tmp_path / "fifo")


def make_loop(tmp_path: Path) -> str:
    os.symlink(tmp_path / "b", tmp_path / "a")
    os.symlink(tmp_path / "a", tmp_path / "b")
    return str(tmp_path / "a")


@pytest.mark.parametrize(("make", "message"), [
    (lambda tmp: str(tmp), "not a regular file"),
    (make_fifo, "not a regular file"),
    (lambda tmp: "/dev/zero", "cannot ship /dev/zero: not a regular file"),
    (make_loop, "too many levels of symbolic links"),
])
def test_unshippable_paths_are_refused_clearly(tmp_path, make, message):
    done = ship(make(tmp_path), tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert message in done.stderr
    assert done.stderr.startswith("kos-shipper: ")


def test_unreadable_file_names_the_file_and_the_fix(tmp_path, monkeypatch):
    # Root reads every file, so the refusal an unprivileged user gets is produced here.
    from shipper import tail

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tail.os, "open", refuse)
    store = tail.CheckpointStore(tmp_path / "cp")
    with pytest.raises(tail.ShipperError, match=r"cannot read /var/log/syslog: permission denied \(run as root"):
        tail.FileTail("/var/log/syslog", [], store, tail.TailOptions())


@pytest.mark.slow
def test_missing_broker_with_once_is_one_line(tmp_path):
    log = tmp_path / "syslog"
    log.write_text("a line\n")
    done = ship(str(log), tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip() == ("kos-shipper: no Kafka broker answers at 127.0.0.1:1: start it "
                                   "(`kos stack start`) or set KOS_KAFKA_BOOTSTRAP_SERVERS")


def test_bad_config_is_one_line(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(PROJECT), KOS_SHIPPER_START_FROM="middle")
    done = subprocess.run([sys.executable, "-m", "shipper", "--once"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == ("kos-shipper: KOS_SHIPPER_START_FROM (shipper.start_from) must be 'beginning' "
                                   "or 'end', not 'middle'")


def test_escape_sequences_in_a_path_are_shown_not_obeyed(tmp_path):
    hostile = tmp_path / "log\x1b]0;owned\x07\x1b[2J\u202etxt.gol"
    hostile.mkdir()
    done = ship(str(hostile), tmp_path)
    assert done.returncode == 1
    assert done.stderr == (f"kos-shipper: cannot ship {tmp_path}/log\\x1b]0;owned\\x07\\x1b[2J\\u202etxt.gol: "
                           "not a regular file\n")


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--metrics-port", "99999"], {}, "--metrics-port (shipper.metrics_port) must be from 0 to 65535, not 99999"),
    ([], {"KOS_SHIPPER_METRICS_PORT": "99999"},
     "KOS_SHIPPER_METRICS_PORT (shipper.metrics_port) must be from 0 to 65535, not 99999"),
    (["--lines-per-record", "-5"], {}, "--lines-per-record (shipper.lines_per_record) must be at least 1, not -5"),
    (["--lines-per-record", "0"], {}, "--lines-per-record (shipper.lines_per_record) must be at least 1, not 0"),
    (["--topic", "raw log"], {}, "--topic (kafka.raw_topic) must be a Kafka topic name (letters, digits, '.', "
                                 "'_', '-'), not 'raw log'"),
    (["--checkpoint-dir", "/dev/null/ck"], {}, "cannot keep checkpoints in /dev/null/ck: Not a directory"),
    ([], {"KOS_SHIPPER_DELIVERY_TIMEOUT_MS": "1000"}, "KOS_SHIPPER_DELIVERY_TIMEOUT_MS "
     "(shipper.delivery_timeout_ms) must be more than linger_ms + request_timeout_ms (5005), not 1000"),
])
def test_values_the_config_refuses_are_refused_on_the_command_line_too(tmp_path, args, env, message):
    log = tmp_path / "syslog"
    log.write_text("a line\n")
    done = ship(str(log), tmp_path, *args, **env)
    assert (done.returncode, done.stderr) == (1, f"kos-shipper: {message}\n")


def test_a_metrics_port_in_use_is_one_line(tmp_path):
    log = tmp_path / "syslog"
    log.write_text("a line\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = ship(str(log), tmp_path, "--metrics-port", str(port))
    assert (done.returncode, done.stderr) == (
        1, f"kos-shipper: cannot serve metrics on 127.0.0.1:{port}: Address already in use (choose another "
           "--metrics-port / shipper.metrics_port)\n")


def test_a_truncated_checkpoint_is_refused_with_what_to_do(tmp_path):
    from shipper.checkpoint import CheckpointStore

    log = tmp_path / "syslog"
    log.write_text("a line\n")
    checkpoint = CheckpointStore(tmp_path / "cp").file(str(log))
    checkpoint.parent.mkdir()
    checkpoint.write_text('{"path": "/var/log/sys')  # 20 bytes, torn
    done = ship(str(log), tmp_path)
    assert (done.returncode, done.stderr) == (
        1, f"kos-shipper: the checkpoint {checkpoint} of {log} is corrupt (JSONDecodeError); the shipper will not "
           "guess where to resume: restore it, or delete it to ship the file again from its start (lines sent "
           "before are sent again and stored once downstream)\n")
    assert checkpoint.read_text() == '{"path": "/var/log/sys'  # left as it was


def test_with_once_a_pattern_that_matches_nothing_exits_1(tmp_path):
    done = ship(str(tmp_path / "app[0-9].log"), tmp_path)
    assert (done.returncode, done.stderr) == (
        1, f"kos-shipper: nothing shipped from {tmp_path}/app[0-9].log: no file matches it\n")
    assert done.stdout.startswith("kos-shipper: 0 lines, 0 bytes, 0 records")


def test_log_lines_show_escape_sequences_in_names_as_text(tmp_path):
    """Following a path that does not exist yet, whose name would set the window title and reset the terminal."""
    hostile = f"{tmp_path}/x\x1b]0;pwned\x07\x1bc\udcff.log"
    env = dict(os.environ, PYTHONPATH=str(PROJECT), KOS_SHIPPER_CHECKPOINT_DIR=str(tmp_path / "cp"),
               KOS_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1", KOS_SHIPPER_REQUEST_TIMEOUT_MS="5000")
    proc = subprocess.Popen([sys.executable, "-m", "shipper", "--path", hostile], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    expected = [f"{tmp_path}/x\\x1b]0;pwned\\x07\\x1bc\\xff.log: no such file (yet); shipping it once it appears",
                "no Kafka broker answers at 127.0.0.1:1"]
    err = b""
    deadline = time.monotonic() + 60
    while not all(e.encode() in err for e in expected) and time.monotonic() < deadline:
        err += proc.stderr.readline()  # both lines come while it runs; then it is stopped
    proc.send_signal(signal.SIGTERM)
    rest, = proc.communicate(timeout=60)[1:]
    err += rest
    assert proc.returncode == 0
    assert not set(err) & {0x1b, 0x07, 0xff}, err
    text = err.decode()
    assert all(e in text for e in expected), text

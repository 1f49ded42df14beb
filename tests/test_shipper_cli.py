"""The shipper's command line on paths it cannot ship: one clear sentence, exit status 1, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent


def ship(path: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(PROJECT), KOS_SHIPPER_CHECKPOINT_DIR=str(tmp_path / "cp"),
               KOS_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1")  # never reached: the path is refused first
    return subprocess.run([sys.executable, "-m", "shipper", "--once", "--path", path], env=env,
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
    assert done.stderr.strip() == ("kos-shipper: config key shipper.start_from must be 'beginning' or 'end', "
                                   "not 'middle'")


def test_escape_sequences_in_a_path_are_shown_not_obeyed(tmp_path):
    hostile = tmp_path / "log\x1b]0;owned\x07\x1b[2J\u202etxt.gol"
    hostile.mkdir()
    done = ship(str(hostile), tmp_path)
    assert done.returncode == 1
    assert done.stderr == (f"kos-shipper: cannot ship {tmp_path}/log\\x1b]0;owned\\x07\\x1b[2J\\u202etxt.gol: "
                           "not a regular file\n")

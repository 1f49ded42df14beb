"""The shipper on the real broker: every line written to the log is in the topic exactly once, in order.

Lines are checked by consuming the topic back. Where a crash (kill -9) makes the
shipper replay up to one round, the replayed lines must carry the same origin and
bytes as the first time, so the origin key downstream absorbs them.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from shipper.checkpoint import CheckpointStore
from shipper.publisher import KafkaPublisher, ProducerSettings
from shipper.records import CUT_MARKER
from shipper.ship import ShipOptions, Shipper
from shipper.tail import TailOptions
from tests.support.kafka import read_topic, shipped_lines
from tests.support.ports import free_port
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).resolve().parents[2]


def numbered(prefix: str, n: int, start: int = 0) -> list[bytes]:
    return [f"Mar  1 10:{i // 60 % 60:02d}:{i % 60:02d} host app[{i}]: {prefix} line {i}".encode()
            for i in range(start, start + n)]


def append(path: Path, lines: list[bytes]) -> None:
    with open(path, "ab") as f:
        f.write(b"".join(line + b"\n" for line in lines))


def ship_once(cfg, topic: str, log: Path, cp: Path, **tail) -> Shipper:
    """One in-process `--once` run against the real broker."""
    publisher = KafkaPublisher(ProducerSettings(cfg.kafka.bootstrap_servers, topic))
    options = ShipOptions(paths=[str(log)], rotated=["{path}.1"], source_id="test",
                          tail=TailOptions(**tail) if tail else TailOptions())
    shipper = Shipper(options, publisher, CheckpointStore(cp))
    try:
        shipper.run(follow=False, stop=threading.Event())
    finally:
        publisher.close()
        shipper.close()
    return shipper


def topic_lines(cfg, topic: str) -> list[bytes]:
    return [s.line for s in shipped_lines(read_topic(cfg.kafka.bootstrap_servers, topic))]


def cli_env(topic: str, log: Path, cp: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"KOS_KAFKA_RAW_TOPIC": topic, "KOS_SHIPPER_PATHS": str(log), "KOS_SHIPPER_CHECKPOINT_DIR": str(cp),
                "KOS_SHIPPER_SOURCE_ID": "test", "PYTHONPATH": str(PROJECT)})
    env.update(extra)
    return env


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "shipper", *args]



def test_rename_rotation_while_running(cfg, topic, tmp_path):
    log, cp = tmp_path / "syslog", tmp_path / "cp"
    log.touch()
    proc = subprocess.Popen(cli(), env=cli_env(topic, log, cp), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first, late, second = numbered("first", 500), numbered("late", 50, 500), numbered("second", 300, 550)
        append(log, first)
        wait_for(lambda: len(topic_lines(cfg, topic)) == 500, 30, "the first lines")
        os.rename(log, f"{log}.1")
        append(Path(f"{log}.1"), late)  # written by a writer that has not reopened the file yet
        append(log, second)
        wait_for(lambda: len(topic_lines(cfg, topic)) == 850, 30, "the lines after the rotation")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert topic_lines(cfg, topic) == first + late + second
    assert "850 lines" in out.decode() and "1 rotations" in out.decode()


def test_rename_rotation_while_stopped(cfg, topic, tmp_path):
    log, cp = tmp_path / "syslog", tmp_path / "cp"
    shipped, unread, after = numbered("shipped", 300), numbered("unread", 200, 300), numbered("after", 100, 500)
    append(log, shipped)
    subprocess.run(cli("--once"), env=cli_env(topic, log, cp), check=True, capture_output=True)
    append(log, unread)
    os.rename(log, f"{log}.1")
    append(log, after)
    subprocess.run(cli("--once"), env=cli_env(topic, log, cp), check=True, capture_output=True)
    assert topic_lines(cfg, topic) == shipped + unread + after


def test_copytruncate_by_logrotate(cfg, topic, tmp_path):
    log, cp = tmp_path / "syslog", tmp_path / "cp"
    conf = tmp_path / "logrotate.conf"
    conf.write_text(f"{log} {{\n  rotate 1\n  copytruncate\n  nocompress\n  missingok\n}}\n")
    shipped, unread, after = numbered("shipped", 400), numbered("unread", 100, 400), numbered("after", 50, 500)
    append(log, shipped)
    ship_once(cfg, topic, log, cp)
    append(log, unread)
    subprocess.run(["logrotate", "-f", "-s", str(tmp_path / "state"), str(conf)], check=True)
    assert log.stat().st_size == 0 and Path(f"{log}.1").stat().st_size > 0
    append(log, after)
    shipper = ship_once(cfg, topic, log, cp)
    assert topic_lines(cfg, topic) == shipped + unread + after
    assert shipper.totals()["truncations"] == 1


def test_truncate_and_rewrite(cfg, topic, tmp_path):
    log, cp = tmp_path / "syslog", tmp_path / "cp"
    before, after = numbered("before", 200), numbered("after", 20, 200)
    append(log, before)
    ship_once(cfg, topic, log, cp)
    with open(log, "wb") as f:  # truncate in place and write new content
        f.write(b"".join(line + b"\n" for line in after))
    ship_once(cfg, topic, log, cp)
    shipped = shipped_lines(read_topic(cfg.kafka.bootstrap_servers, topic))
    assert [s.line for s in shipped] == before + after
    assert len({(s.file, s.offset) for s in shipped}) == 220


@pytest.mark.slow
def test_kill_9_mid_stream_then_restart(cfg, topic, tmp_path):
    log, cp = tmp_path / "syslog", tmp_path / "cp"
    lines = numbered("crash", 300_000)
    append(log, lines)
    env = cli_env(topic, log, cp, KOS_SHIPPER_LINES_PER_RECORD="1", KOS_SHIPPER_ROUND_BYTES="262144")
    proc = subprocess.Popen(cli("--once"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = CheckpointStore(cp)

    def progressed() -> bool:
        checkpoint = store.load(str(log))
        return checkpoint is not None and checkpoint.offset > 1_000_000

    wait_for(progressed, 60, "the shipper to checkpoint some progress")
    proc.kill()
    proc.wait()
    killed_at = store.load(str(log)).offset
    assert killed_at < log.stat().st_size, "the shipper finished before it could be killed"
    subprocess.run(cli("--once"), env=env, check=True, capture_output=True)

    shipped = shipped_lines(read_topic(cfg.kafka.bootstrap_servers, topic))
    by_origin: dict[tuple[str, int], bytes] = {}
    for s in shipped:
        assert by_origin.setdefault((s.file, s.offset), s.line) == s.line, "a replay changed a line's origin"
    assert len({file for file, _ in by_origin}) == 1
    assert [line for _, line in sorted(by_origin.items())] == lines  # every line, once per origin
    replayed = len(shipped) - len(lines)
    assert 0 <= replayed <= 262144 // 40  # at most one unacknowledged round of ~40-byte lines is sent again


def test_sigterm_drains_and_a_restart_sends_nothing_twice(cfg, topic, tmp_path):
    log, cp = tmp_path / "syslog", tmp_path / "cp"
    lines = numbered("drain", 200_000)
    append(log, lines)
    env = cli_env(topic, log, cp, KOS_SHIPPER_LINES_PER_RECORD="1", KOS_SHIPPER_ROUND_BYTES="262144")
    proc = subprocess.Popen(cli("--once"), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    store = CheckpointStore(cp)
    wait_for(lambda: (c := store.load(str(log))) is not None and c.offset > 500_000, 60, "some progress")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert b"SIGTERM received" in err
    stopped_at = store.load(str(log)).offset
    assert stopped_at < log.stat().st_size, "the shipper finished before the signal"
    assert f"{len(topic_lines(cfg, topic))} lines".encode() in out  # the summary counts what was acknowledged
    subprocess.run(cli("--once"), env=env, check=True, capture_output=True)
    assert topic_lines(cfg, topic) == lines


def test_progress_bar_on_a_terminal(cfg, topic, tmp_path):
    log, cp = tmp_path / "syslog", tmp_path / "cp"
    append(log, numbered("tty", 100_000))
    command = " ".join(cli("--once", "--lines-per-record", "1"))
    done = subprocess.run(["script", "-qefc", command, "/dev/null"], env=cli_env(topic, log, cp),
                          capture_output=True, timeout=120)
    assert done.returncode == 0
    screen = done.stdout.decode()
    assert "lines/s" in screen and "MB" in screen and "[#" in screen
    assert "kos-shipper: 100000 lines" in screen
    piped = subprocess.run(cli("--once"), env=cli_env(topic, log, tmp_path / "cp2"), capture_output=True)
    assert b"lines/s" not in piped.stderr  # no bar when not a terminal


@pytest.mark.slow
def test_broker_down_longer_than_delivery_timeout(cfg, kafka, topic, tmp_path):
    log, cp = tmp_path / "syslog", tmp_path / "cp"
    log.touch()
    env = cli_env(topic, log, cp, KOS_SHIPPER_DELIVERY_TIMEOUT_MS="3000", KOS_SHIPPER_REQUEST_TIMEOUT_MS="2000",
                  KOS_SHIPPER_LINGER_MS="0")
    errors = tmp_path / "stderr"
    with open(errors, "wb") as sink:
        proc = subprocess.Popen(cli(), env=env, stdout=subprocess.PIPE, stderr=sink)
    before, during = numbered("before", 100), numbered("during", 400, 100)
    try:
        append(log, before)
        wait_for(lambda: len(topic_lines(cfg, topic)) == 100, 30, "the lines before the outage")
        kafka.stop()
        append(log, during)
        wait_for(lambda: errors.read_bytes().count(b"holding at the last acknowledged byte") >= 3, 90,
                 "three delivery timeouts")
        assert proc.poll() is None, "the shipper gave up during the outage"
        kafka.start()
        wait_for(lambda: len(topic_lines(cfg, topic)) >= 500, 90, "the lines written during the outage")
    finally:
        kafka.start()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    err = errors.read_bytes()
    assert proc.returncode == 0, err
    assert topic_lines(cfg, topic) == before + during
    assert b"holding at the last acknowledged byte" in err


@pytest.mark.slow
def test_following_shipper_waits_for_a_broker_that_is_down_at_start(cfg, kafka, topic, tmp_path):
    log, cp = tmp_path / "syslog", tmp_path / "cp"
    lines = numbered("waited", 50)
    append(log, lines)
    kafka.stop()
    proc = None
    try:
        errors = tmp_path / "stderr"
        with open(errors, "wb") as sink:
            proc = subprocess.Popen(cli(), env=cli_env(topic, log, cp), stdout=subprocess.PIPE, stderr=sink)
        wait_for(lambda: b"no Kafka broker answers" in errors.read_bytes(), 60, "the shipper saying it waits")
        assert proc.poll() is None, "the shipper gave up instead of waiting"
    finally:
        kafka.start()
    try:
        wait_for(lambda: len(topic_lines(cfg, topic)) == 50, 120, "the lines once the broker is up")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert proc.returncode == 0, errors.read_bytes()
    assert topic_lines(cfg, topic) == lines


def test_file_below_fingerprint_size(cfg, topic, tmp_path):
    log, cp = tmp_path / "syslog", tmp_path / "cp"
    log.write_bytes(b"tiny\n")
    ship_once(cfg, topic, log, cp)
    append(log, numbered("grown", 30))
    ship_once(cfg, topic, log, cp)
    shipped = shipped_lines(read_topic(cfg.kafka.bootstrap_servers, topic))
    assert [s.line for s in shipped] == [b"tiny"] + numbered("grown", 30)
    assert len({s.file for s in shipped}) == 1


def test_five_mib_line_is_cut_and_the_rest_flows(cfg, topic, tmp_path):
    log, cp = tmp_path / "syslog", tmp_path / "cp"
    huge = b"Mar  1 10:00:00 host app[1]: " + b"z" * (5 * 1024 * 1024)
    append(log, [b"before", huge, b"after"])
    shipper = ship_once(cfg, topic, log, cp)
    got = topic_lines(cfg, topic)
    max_line = TailOptions().max_line_bytes
    assert got == [b"before", huge[:max_line] + CUT_MARKER % (len(huge) - max_line), b"after"]
    assert shipper.totals()["cut_lines"] == 1


def test_invalid_utf8_and_nul_bytes_pass_through(cfg, topic, tmp_path):
    log, cp = tmp_path / "syslog", tmp_path / "cp"
    weird = [b"\xff\xfe latin-1 caf\xe9", b"nul \x00 inside \x00", b"\xc3\x28 broken", b"", b"\x1b[31mred\x1b[0m"]
    append(log, weird)
    ship_once(cfg, topic, log, cp)
    assert topic_lines(cfg, topic) == weird


def test_partial_last_line_completed_later(cfg, topic, tmp_path):
    log, cp = tmp_path / "syslog", tmp_path / "cp"
    log.write_bytes(b"whole line\nhalf of a")
    subprocess.run(cli("--once"), env=cli_env(topic, log, cp), check=True, capture_output=True)
    assert topic_lines(cfg, topic) == [b"whole line"]
    with open(log, "ab") as f:
        f.write(b" line\n")
    subprocess.run(cli("--once"), env=cli_env(topic, log, cp), check=True, capture_output=True)
    assert topic_lines(cfg, topic) == [b"whole line", b"half of a line"]


def test_metrics_endpoint_reports_lag_and_totals(cfg, topic, tmp_path):
    log, cp = tmp_path / "syslog", tmp_path / "cp"
    append(log, numbered("m", 40))
    port = free_port()
    proc = subprocess.Popen(cli("--metrics-port", str(port)), env=cli_env(topic, log, cp),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: len(topic_lines(cfg, topic)) == 40, 30, "the lines")

        def scrape() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
                return resp.read().decode()

        wait_for(lambda: "kos_shipper_lines_total 40" in scrape(), 10, "the counters")
        text = scrape()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert f'kos_shipper_lag_bytes{{path="{log}"}} 0' in text
    assert "kos_shipper_rotations_total 0" in text
    assert "kos_shipper_records_in_flight 0" in text


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("rsyslogd") is None or shutil.which("logrotate") is None,
                    reason="needs Debian's rsyslog and logrotate (apt-get install rsyslog logrotate)")
def test_rsyslog_writes_logrotate_rotates(cfg, topic, tmp_path):
    """The real daemon writes the file from `logger` messages; logrotate renames it and HUPs rsyslog."""
    log, cp, sock, pid = tmp_path / "syslog", tmp_path / "cp", tmp_path / "log.sock", tmp_path / "rsyslogd.pid"
    conf = tmp_path / "rsyslog.conf"
    conf.write_text(
        f'global(workDirectory="{tmp_path}")\n'
        'module(load="imuxsock" SysSock.Use="off")\n'
        f'input(type="imuxsock" Socket="{sock}" CreatePath="on")\n'
        f'*.* action(type="omfile" file="{log}" template="RSYSLOG_TraditionalFileFormat")\n')
    daemon = subprocess.Popen(["rsyslogd", "-n", "-f", str(conf), "-i", str(pid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shipper = None
    try:
        wait_for(sock.exists, 20, "rsyslogd's socket")

        def send(prefix: str, n: int) -> list[str]:
            msgs = [f"{prefix} message {i}" for i in range(n)]
            for m in msgs:
                subprocess.run(["logger", "-u", str(sock), "-t", "kos-test", m], check=True)
            return msgs

        def logged() -> list[str]:
            return [line.decode().split(": ", 1)[1] for line in topic_lines(cfg, topic)]

        first = send("first", 40)
        wait_for(lambda: log.exists() and log.read_text().count("\n") == 40, 20, "rsyslog to write the first lines")
        shipper = subprocess.Popen(cli(), env=cli_env(topic, log, cp), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        wait_for(lambda: len(topic_lines(cfg, topic)) == 40, 30, "the first lines")
        rotate = tmp_path / "logrotate.conf"
        rotate.write_text(f"{log} {{\n  rotate 1\n  nocompress\n  create 0640 root root\n  postrotate\n"
                          f"    kill -HUP $(cat {pid})\n  endscript\n}}\n")
        subprocess.run(["logrotate", "-f", "-s", str(tmp_path / "state"), str(rotate)], check=True)
        second = send("second", 60)
        wait_for(lambda: len(topic_lines(cfg, topic)) == 100, 30, "the lines after the rotation")
        assert Path(f"{log}.1").exists()
    finally:
        if shipper is not None:
            shipper.send_signal(signal.SIGTERM)
            shipper.communicate(timeout=30)
        daemon.terminate()
        daemon.wait(timeout=30)
    assert logged() == first + second


@pytest.mark.slow
def test_following_a_glob_survives_odd_entries_and_ships_names_as_bytes(cfg, topic, tmp_path):
    """A file whose name is not UTF-8, a directory and a FIFO appear under a watched glob: the shipper goes on,
    the odd entries are skipped with one warning each, and the file's path travels byte for byte."""
    watched, cp = tmp_path / "logs", tmp_path / "cp"
    watched.mkdir()
    append(watched / "plain.log", numbered("plain", 3))
    env = cli_env(topic, watched / "*", cp)
    errors = tmp_path / "stderr"
    with open(errors, "wb") as sink:
        proc = subprocess.Popen(cli(), env=env, stdout=subprocess.PIPE, stderr=sink)
    skipped = b"not a regular file; skipping it"
    try:
        wait_for(lambda: len(topic_lines(cfg, topic)) == 3, 30, "the first file")
        raw = os.fsencode(str(watched)) + b"/caf\xe9\xff.log"
        with open(raw, "wb") as f:
            f.write(b"".join(line + b"\n" for line in numbered("odd", 4)))
        (watched / "sub").mkdir()
        os.mkfifo(watched / "pipe")
        wait_for(lambda: len(topic_lines(cfg, topic)) == 7, 60, "the file with the odd name")
        wait_for(lambda: errors.read_bytes().count(skipped) == 2, 60, "a warning for each odd entry")
        # A file made now is found by a later rescan, which sees the odd entries again: no second warning.
        append(watched / "later.log", numbered("later", 2))
        wait_for(lambda: len(topic_lines(cfg, topic)) == 9, 60, "the file made after the warnings")
        assert proc.poll() is None, "the shipper ended"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    err = errors.read_bytes()
    assert proc.returncode == 0, err
    odd = [s for s in shipped_lines_raw(read_topic(cfg.kafka.bootstrap_servers, topic)) if s[0] == raw]
    assert [line for _, line in odd] == numbered("odd", 4)
    assert err.count(b"not a regular file; skipping it") == 2


def shipped_lines_raw(records: list) -> list[tuple[bytes, bytes]]:
    """(kos.path header bytes, line) for every line of ``records``."""
    return [(dict(r.headers)["kos.path"], line) for r in records for line in r.value.split(b"\n")]


@pytest.mark.slow
def test_once_to_a_topic_that_does_not_exist_gives_up_naming_it(cfg, kafka, tmp_path):
    log, cp = tmp_path / "syslog", tmp_path / "cp"
    append(log, numbered("lost", 2))
    env = cli_env("kos-no-such-topic", log, cp, KOS_SHIPPER_REQUEST_TIMEOUT_MS="2000",
                  KOS_SHIPPER_DELIVERY_TIMEOUT_MS="4000")
    started = time.monotonic()
    done = subprocess.run(cli("--once"), env=env, capture_output=True, text=True, timeout=120)
    assert time.monotonic() - started < 60
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        f"kos-shipper: topic kos-no-such-topic does not exist on Kafka at {cfg.kafka.bootstrap_servers[0]}: create it "
        "(`kos stack start` creates the configured topics) or check --topic / kafka.raw_topic")

"""`kos audit`: source files read again with the pipeline's parsing rules, compared with process_events."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime

import pytest

from jobs.events_table import write_events
from jobs.parsing import RAW_SCHEMA, candidate_lines, events, parse_lines
from kos.audit import compare
from tests.conftest import read_topic
from tests.submit import BIN, PROJECT

LINES = [
    "Feb 24 20:29:42 dell-Inspiron-15-3567 systemd[1]: Started Locale Service.",
    "Sep 28 12:27:10 vm-alarm systemd[1]: Starting Locale Service...",
    "Sep 28 12:27:14 vm-alarm dbus-daemon[838]: [system] Successfully activated service 'org.freedesktop.hostname1'",
    "Feb 30 25:61:00 h systemd[1]: Started X.",
    "2020-05-31T00:00:46.599903+02:00 localhost systemd[1]: Started ssh.service - OpenBSD Secure Shell server.",
    "Mar 15 04:42:16 host.lab.example.com systemd: Started Hardware RNG Entropy Gatherer Daemon.",
    "Sep 28 12:27:10 vm-alarm kernel: [   11.183765] systemd[1]: Started Journal Service.",
]
F = ("h", "systemd", 1, "s", "STARTED")


def test_compare_sorts_out_missing_unexpected_differing_and_pending():
    expected = {0: F, 50: F, 100: F, 150: F, 900: F}
    present = {0: F, 100: ("h", "systemd", 1, "other", "STARTED"), 120: F, 150: F}
    audit = compare("/var/log/syslog", "k", expected, present, shipped_to=800, dead_letters=2)
    assert (audit.expected, audit.present, audit.missing, audit.unexpected, audit.differing, audit.pending) == (
        4, 4, [50], [120], [100], 1)
    assert not audit.ok
    assert audit.line() == ("/var/log/syslog [k]: 4 start events expected, 4 rows present, 1 missing (at byte 50), "
                            "1 unexpected (at byte 120), 1 differing (at byte 100); 2 dead letters expected; "
                            "1 events not shipped yet")
    assert compare("p", "k", {0: F}, {0: F}, shipped_to=10, dead_letters=0).ok


def audit(env: dict[str, str], *paths: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "kos"), "audit", *paths], env={**os.environ, **env}, cwd=PROJECT,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.integration
@pytest.mark.slow
def test_audit_of_a_shipped_and_loaded_file(cfg, kafka, topic, spark, db, loader, tmp_path):
    log = tmp_path / "syslog"
    log.write_text("".join(line + "\n" for line in LINES))
    env = {"KOS_SHIPPER_CHECKPOINT_DIR": str(tmp_path / "checkpoints")}
    shipped = subprocess.run([str(BIN / "kos-shipper"), "--once", "--no-progress", "--path", str(log),
                              "--topic", topic], env={**os.environ, **env}, cwd=PROJECT, capture_output=True,
                             text=True, timeout=120)
    assert shipped.returncode == 0, shipped.stderr
    # Transform and load, minus the protobuf hop between them: the same parsing and the same sink.
    raw = [(bytearray(r.value), [(k, bytearray(v)) for k, v in r.headers], topic, r.partition, r.offset,
            datetime.fromtimestamp(r.timestamp / 1000, UTC).replace(tzinfo=None))
           for r in read_topic(cfg.kafka.bootstrap_servers, topic)]
    parsed = events(parse_lines(candidate_lines(spark.createDataFrame(raw, RAW_SCHEMA))))
    assert write_events(parsed, 0, loader, "audit").added == 4

    done = audit(env, str(log))
    assert done.returncode == 0, done.stderr[-3000:]
    (line,) = done.stdout.splitlines()
    assert line.startswith(f"OK      {log} [")
    assert line.endswith("]: 4 start events expected, 4 rows present, 0 missing, 0 unexpected, 0 differing; "
                         "1 dead letters expected; 0 events not shipped yet")

    # One row lost, one that no line explains, one changed, and a new line not shipped yet.
    first_event = 0
    dbus_offset = len(LINES[0]) + len(LINES[1]) + 2
    with db.connect() as conn:
        cur = conn.cursor()
        cur.execute("DELETE FROM process_events WHERE origin_offset = %s", (first_event,))
        cur.execute("UPDATE process_events SET service = 'tampered' WHERE origin_offset = %s", (dbus_offset,))
        cur.execute("INSERT INTO process_events (event_time, host, process, pid, service, action, origin_source, "
                    "origin_file, origin_offset, kafka_topic, kafka_partition, kafka_offset) SELECT event_time, host, "
                    "process, pid, service, action, origin_source, origin_file, 5, kafka_topic, kafka_partition, "
                    "kafka_offset FROM process_events LIMIT 1")
        conn.commit()
    with open(log, "a") as f:
        f.write("Nov 28 09:00:00 h systemd[1]: Started Late Unit.\n")
    done = audit(env, str(log))
    assert done.returncode == 1
    assert done.stdout.startswith(f"DIFFERS {log} [")
    assert done.stdout.rstrip().endswith(
        f"]: 4 start events expected, 4 rows present, 1 missing (at byte 0), 1 unexpected (at byte 5), "
        f"1 differing (at byte {dbus_offset}); 1 dead letters expected; 1 events not shipped yet")


@pytest.mark.integration
def test_audit_of_an_unreadable_path_is_one_line(tmp_path, mariadb):
    done = audit({}, str(tmp_path / "nope"))
    assert (done.returncode, done.stdout, done.stderr) == (
        2, "", f"kos audit: {tmp_path / 'nope'}: not readable files\n")

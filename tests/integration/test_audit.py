"""`kos audit`: source files read again with the pipeline's parsing rules, compared with process_events."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from jobs.load import LOAD
from jobs.transform import TRANSFORM
from tests.support.submit import BIN, PROJECT

LINES = [
    "Feb 24 20:29:42 dell-Inspiron-15-3567 systemd[1]: Started Locale Service.",
    "Sep 28 12:27:10 vm-alarm systemd[1]: Starting Locale Service...",
    "Sep 28 12:27:14 vm-alarm dbus-daemon[838]: [system] Successfully activated service 'org.freedesktop.hostname1'",
    "Feb 30 25:61:00 h systemd[1]: Started X.",
    "2020-05-31T00:00:46.599903+02:00 localhost systemd[1]: Started ssh.service - OpenBSD Secure Shell server.",
    "Mar 15 04:42:16 host.lab.example.com systemd: Started Hardware RNG Entropy Gatherer Daemon.",
    "Sep 28 12:27:10 vm-alarm kernel: [   11.183765] systemd[1]: Started Journal Service.",
]
def audit(env: dict[str, str], *paths: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "kos"), "audit", *paths], env={**os.environ, **env}, cwd=PROJECT,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.integration
@pytest.mark.slow
def test_audit_of_a_shipped_transformed_and_loaded_file(cfg, pipeline_env, in_session, db, tmp_path):
    from kosctl.stack.topics import ensure_topics

    log = tmp_path / "syslog"
    log.write_text("".join(line + "\n" for line in LINES))
    run = uuid.uuid4().hex[:10]
    ensure_topics(cfg, [f"kos-test-empty-{run}"])
    env = {k: v for k, v in pipeline_env.items() if k.startswith("KOS_")}
    shipped = subprocess.run([str(BIN / "kos-shipper"), "--once", "--no-progress", "--path", str(log)],
                             env=pipeline_env, cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert shipped.returncode == 0, shipped.stderr
    in_session(TRANSFORM, "--available-now")
    in_session(LOAD, "--available-now")

    done = audit(env, str(log))
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    (line,) = done.stdout.splitlines()
    assert line.startswith(f"OK      {log} [")
    assert line.endswith("]: 4 start events expected, 4 rows present, 0 missing, 0 unexpected, 0 differing; "
                         "1 dead letters expected, 0 not in the dead-letter topic; 0 events not shipped yet")

    # One row lost, one that no line explains, one changed, one moved in time, a new line not shipped yet, and a
    # dead-letter topic without the dead letter.
    first_event = 0
    dbus_offset = len(LINES[0]) + len(LINES[1]) + 2
    rfc_offset = sum(len(line) + 1 for line in LINES[:4])
    with db.connect() as conn:
        cur = conn.cursor()
        cur.execute("DELETE FROM process_events WHERE origin_offset = %s", (first_event,))
        cur.execute("UPDATE process_events SET service = 'tampered' WHERE origin_offset = %s", (dbus_offset,))
        cur.execute("UPDATE process_events SET event_time = event_time + INTERVAL 1 YEAR WHERE origin_offset = %s",
                    (rfc_offset,))
        cur.execute("INSERT INTO process_events (event_time, host, process, pid, service, action, origin_source, "
                    "origin_file, origin_offset, kafka_topic, kafka_partition, kafka_offset) SELECT event_time, host, "
                    "process, pid, service, action, origin_source, origin_file, 5, kafka_topic, kafka_partition, "
                    "kafka_offset FROM process_events LIMIT 1")
        conn.commit()
    with open(log, "a") as f:
        f.write("Nov 28 09:00:00 h systemd[1]: Started Late Unit.\n")
    dead_offset = sum(len(line) + 1 for line in LINES[:3])
    done = audit({**env, "KOS_KAFKA_DEAD_LETTER_TOPIC": f"kos-test-empty-{run}"}, str(log))
    assert done.returncode == 1
    assert done.stdout.startswith(f"DIFFERS {log} [")
    assert done.stdout.rstrip().endswith(
        f"]: 4 start events expected, 4 rows present, 1 missing (at byte 0), 1 unexpected (at byte 5), "
        f"2 differing (at byte {dbus_offset}, {rfc_offset}); 1 dead letters expected, 1 not in the dead-letter topic "
        f"(at byte {dead_offset}); 1 events not shipped yet")


@pytest.mark.integration
def test_audit_of_an_unreadable_path_is_one_line(tmp_path, mariadb):
    done = audit({}, str(tmp_path / "nope"))
    assert (done.returncode, done.stdout, done.stderr) == (
        2, "", f"kos audit: {tmp_path / 'nope'}: not readable files\n")

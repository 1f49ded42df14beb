"""`kos audit`: source files read again with the pipeline's parsing rules, compared with process_events."""

from __future__ import annotations

import os
import subprocess
import uuid
from datetime import datetime

import pytest

from kosctl.audit import compare, file_identity
from shipper.checkpoint import CheckpointStore
from shipper.identity import followed_key
from tests.support.fakes import MemoryPublisher
from tests.support.submit import BIN, PROJECT, spark_submit
from tests.test_shipper_files import append, numbered, origins_of, run

LINES = [
    "Feb 24 20:29:42 dell-Inspiron-15-3567 systemd[1]: Started Locale Service.",
    "Sep 28 12:27:10 vm-alarm systemd[1]: Starting Locale Service...",
    "Sep 28 12:27:14 vm-alarm dbus-daemon[838]: [system] Successfully activated service 'org.freedesktop.hostname1'",
    "Feb 30 25:61:00 h systemd[1]: Started X.",
    "2020-05-31T00:00:46.599903+02:00 localhost systemd[1]: Started ssh.service - OpenBSD Secure Shell server.",
    "Mar 15 04:42:16 host.lab.example.com systemd: Started Hardware RNG Entropy Gatherer Daemon.",
    "Sep 28 12:27:10 vm-alarm kernel: [   11.183765] systemd[1]: Started Journal Service.",
]
F = (datetime(2026, 1, 1), "h", "systemd", 1, "s", "STARTED")


def test_compare_sorts_out_missing_unexpected_differing_pending_and_lost_dead_letters():
    expected = {0: F, 50: F, 100: F, 150: F, 900: F}
    present = {0: F, 100: (datetime(2026, 1, 1), "h", "systemd", 1, "other", "STARTED"), 120: F,
               150: (datetime(2025, 1, 1), *F[1:])}
    audit = compare("/var/log/syslog", "k", expected, present, shipped_to=800, dead_expected=[30, 60, 950],
                    dead_found=[60])
    assert (audit.expected, audit.present, audit.missing, audit.unexpected, audit.differing, audit.pending) == (
        4, 4, [50], [120], [100, 150], 1)
    assert (audit.dead_letters, audit.dead_letters_missing) == (2, [30])
    assert not audit.ok
    assert audit.line() == ("/var/log/syslog [k]: 4 start events expected, 4 rows present, 1 missing (at byte 50), "
                            "1 unexpected (at byte 120), 2 differing (at byte 100, 150); 2 dead letters expected, "
                            "1 not in the dead-letter topic (at byte 30); 1 events not shipped yet")
    assert compare("p", "k", {0: F}, {0: F}, shipped_to=10, dead_expected=[5], dead_found=[5]).ok
    assert not compare("p", "k", {0: F}, {0: F}, shipped_to=10, dead_expected=[5], dead_found=[]).ok


def test_file_identity_of_the_followed_the_rotated_and_an_unknown_file(tmp_path):
    """The watched file is known by its checkpoint (shipped to its offset); the file rotated away from the name,
    fingerprinted while it was small, by the key its records carry (whole); a file never shipped, by its own
    identity (nothing shipped)."""
    log, cp, pub = tmp_path / "syslog", tmp_path / "cp", MemoryPublisher()
    append(log, "x")  # below the 64-byte fingerprint: the key covers 2 bytes
    run(log, cp, pub)
    append(log, *numbered("old", 5))
    run(log, cp, pub)
    os.rename(log, f"{log}.1")
    append(log, *numbered("new", 3))
    run(log, cp, pub)
    append(log, "not shipped yet")
    other = tmp_path / "other"
    append(other, *numbered("other", 2))
    keys = [file for file, _ in origins_of(pub)]
    old_key, new_key = keys[0], keys[-1]
    assert old_key.split("-")[2] == "2" and old_key != new_key
    checkpoints = CheckpointStore(cp).load_all()
    assert [c.path for c in checkpoints] == [str(log)]
    assert file_identity(str(log), checkpoints, set(keys), 64) == (new_key, log.stat().st_size - 16)
    rotated = tmp_path / "syslog.1"
    assert file_identity(str(rotated), checkpoints, set(keys), 64) == (old_key, rotated.stat().st_size)
    st = other.stat()
    unknown = file_identity(str(other), checkpoints, set(keys), 64)
    assert unknown[1] == 0 and unknown[0].startswith(f"{st.st_dev:x}-{st.st_ino:x}-64-")
    for keys, path in (([old_key], other), ([old_key], log), (["not-a-key"], log)):
        fd = os.open(path, os.O_RDONLY)
        assert followed_key(keys, fd) is None
        os.close(fd)


def audit(env: dict[str, str], *paths: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "kos"), "audit", *paths], env={**os.environ, **env}, cwd=PROJECT,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.integration
@pytest.mark.slow
def test_audit_of_a_shipped_transformed_and_loaded_file(cfg, kafka, db, tmp_path):
    from kosctl.stack.topics import ensure_topics

    log = tmp_path / "syslog"
    log.write_text("".join(line + "\n" for line in LINES))
    run = uuid.uuid4().hex[:10]
    topics = {k: f"kos-test-{k.lower()}-{run}" for k in ("RAW", "PARSED", "DEAD_LETTER")}
    ensure_topics(cfg, [*topics.values(), f"kos-test-empty-{run}"])
    env = {"KOS_SHIPPER_CHECKPOINT_DIR": str(tmp_path / "checkpoints"), "KOS_SPARK_CHECKPOINT_DIR":
           str(tmp_path / "spark"), **{f"KOS_KAFKA_{k}_TOPIC": v for k, v in topics.items()}}
    shipped = subprocess.run([str(BIN / "kos-shipper"), "--once", "--no-progress", "--path", str(log)],
                             env={**os.environ, **env}, cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert shipped.returncode == 0, shipped.stderr
    kafka_jdbc = f"{cfg.spark.kafka_package},{cfg.spark.jdbc_package}"
    for job in ("transform", "load"):
        done = spark_submit("--packages", kafka_jdbc, f"jobs/{job}.py", env=env)
        assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]

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

"""`kos audit`'s comparison and how it knows a file: pure, without the stack."""

from __future__ import annotations

import os
from datetime import datetime

from kosctl.audit import compare, file_identity
from shipper.checkpoint import CheckpointStore
from shipper.identity import followed_key
from tests.support.fakes import MemoryPublisher
from tests.unit.shipper.test_files import append, numbered, origins_of, run

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

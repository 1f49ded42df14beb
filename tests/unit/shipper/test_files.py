"""The shipper against real files and an in-memory publisher: rotation, truncation, restarts, failures.

The same scenarios run against the real broker in test_shipper_kafka.py; here they
are quick and pin down the file handling itself.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from pathlib import Path

import pytest

from shipper.checkpoint import CheckpointStore
from shipper.ship import ShipOptions, Shipper
from shipper.tail import TailOptions
from tests.support.fakes import MemoryPublisher


def make(log: Path, cp: Path, publisher: MemoryPublisher, **tail: int) -> Shipper:
    options = ShipOptions(paths=[str(log)], rotated=["{path}.1"], source_id="test", round_bytes=4096,
                          tail=TailOptions(fingerprint_bytes=64, lines_per_record=tail.get("k", 3),
                                           max_line_bytes=tail.get("max_line", 1000), rotate_grace_seconds=0))
    return Shipper(options, publisher, CheckpointStore(cp))


def run(log: Path, cp: Path, publisher: MemoryPublisher, **tail: int) -> Shipper:
    shipper = make(log, cp, publisher, **tail)
    shipper.run(follow=False, stop=threading.Event())
    shipper.close()
    return shipper


def lines_of(publisher: MemoryPublisher) -> list[bytes]:
    return [line for _, value, _ in publisher.sent for line in value.split(b"\n")]


def origins_of(publisher: MemoryPublisher) -> list[tuple[str, int]]:
    out = []
    for _, value, headers in publisher.sent:
        h = dict(headers)
        offset = int(h["kos.offset"])
        for line in value.split(b"\n"):
            out.append((h["kos.file"].decode(), offset))
            offset += len(line) + 1
    return out


def append(path: Path, *lines: str) -> None:
    with open(path, "ab") as f:
        f.write("".join(f"{line}\n" for line in lines).encode())


def numbered(prefix: str, n: int) -> list[str]:
    return [f"Mar  1 00:00:{i % 60:02d} host app[{i}]: {prefix} line {i}" for i in range(n)]


def test_ships_each_line_once_and_resumes_from_checkpoint(tmp_path):
    log, cp, pub = tmp_path / "syslog", tmp_path / "cp", MemoryPublisher()
    first, second = numbered("a", 10), numbered("b", 7)
    append(log, *first)
    run(log, cp, pub)
    append(log, *second)
    run(log, cp, pub)
    assert lines_of(pub) == [x.encode() for x in first + second]
    assert len(set(origins_of(pub))) == 17


def test_rename_rotation_while_running_finishes_old_file_first(tmp_path):
    """A writer may append to the renamed file until it reopens: those lines come before the new file's."""
    log, cp, pub = tmp_path / "syslog", tmp_path / "cp", MemoryPublisher()
    before, late, after = numbered("old", 5), numbered("late", 4), numbered("new", 6)
    append(log, *before)
    options = ShipOptions(paths=[str(log)], rotated=["{path}.1"], source_id="test", poll_seconds=0.05,
                          tail=TailOptions(fingerprint_bytes=64, lines_per_record=3, rotate_grace_seconds=3.0))
    shipper = Shipper(options, pub, CheckpointStore(cp))
    stop = threading.Event()
    follower = threading.Thread(target=shipper.run, kwargs={"follow": True, "stop": stop})
    follower.start()
    try:
        wait(lambda: len(lines_of(pub)) == 5)
        os.rename(log, f"{log}.1")
        append(log, *after)
        wait(lambda: shipper.totals()["rotations"] == 1)
        seen = time.monotonic()
        append(Path(f"{log}.1"), *late)  # after the rotation was seen, before the grace period ended:
        assert time.monotonic() - seen < 3.0  # where the late lines landed, verified
        assert len(lines_of(pub)) == 5  # and the new file not started yet
        wait(lambda: len(lines_of(pub)) == 15)
    finally:
        stop.set()
        follower.join()
        shipper.close()
    assert lines_of(pub) == [x.encode() for x in before + late + after]


def test_rotated_twice_between_two_looks_reads_the_file_in_between_too(tmp_path):
    """The shipper notices a rotation only when it has read the file to its end: a backlog (or a fast writer) can
    hide more than one. The file rotated in between is found among the rotated names and read whole, in order."""
    log, cp, pub = tmp_path / "syslog", tmp_path / "cp", MemoryPublisher()
    old, tail, middle, new = numbered("old", 5), numbered("tail", 2), numbered("middle", 4), numbered("new", 3)
    options = ShipOptions(paths=[str(log)], rotated=["{path}.1", "{path}.2"], source_id="test", round_bytes=4096,
                          tail=TailOptions(fingerprint_bytes=64, lines_per_record=3, rotate_grace_seconds=0))
    shipper = Shipper(options, pub, CheckpointStore(cp))
    append(log, *old)
    shipper.run(follow=False, stop=threading.Event())
    append(log, *tail)
    os.rename(log, f"{log}.1")
    append(log, *middle)
    os.rename(f"{log}.1", f"{log}.2")
    os.rename(log, f"{log}.1")
    append(log, *new)
    shipper.run(follow=False, stop=threading.Event())
    shipper.close()
    assert lines_of(pub) == [x.encode() for x in old + tail + middle + new]
    assert shipper.totals()["rotations"] == 2
    assert len({file for file, _ in origins_of(pub)}) == 3


def wait(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_rename_rotation_while_stopped_reads_unread_tail_of_rotated_file(tmp_path):
    log, cp, pub = tmp_path / "syslog", tmp_path / "cp", MemoryPublisher()
    before, tail, after = numbered("old", 5), numbered("tail", 3), numbered("new", 4)
    append(log, *before)
    run(log, cp, pub)
    append(log, *tail)
    os.rename(log, f"{log}.1")
    append(log, *after)
    shipper = run(log, cp, pub)
    assert lines_of(pub) == [x.encode() for x in before + tail + after]
    assert shipper.totals()["rotations"] == 1


def test_truncate_and_rewrite_starts_again_from_byte_zero_with_new_origins(tmp_path):
    log, cp, pub = tmp_path / "syslog", tmp_path / "cp", MemoryPublisher()
    before, after = numbered("before", 8), numbered("after", 2)
    append(log, *before)
    run(log, cp, pub)
    os.truncate(log, 0)
    append(log, *after)
    shipper = run(log, cp, pub)
    assert lines_of(pub) == [x.encode() for x in before + after]
    assert shipper.totals()["truncations"] == 1
    origins = origins_of(pub)
    assert len(set(origins)) == len(origins)  # byte 0 after the truncation is another origin than before


def test_copytruncate_finishes_the_unread_tail_from_the_copy(tmp_path):
    log, cp, pub = tmp_path / "syslog", tmp_path / "cp", MemoryPublisher()
    shipped, unread, after = numbered("shipped", 4), numbered("unread", 3), numbered("after", 2)
    append(log, *shipped)
    run(log, cp, pub)
    append(log, *unread)
    Path(f"{log}.1").write_bytes(log.read_bytes())  # what logrotate's copytruncate does
    os.truncate(log, 0)
    append(log, *after)
    run(log, cp, pub)
    assert lines_of(pub) == [x.encode() for x in shipped + unread + after]


def test_small_file_is_read_from_its_first_byte_and_keeps_its_identity(tmp_path):
    log, cp, pub = tmp_path / "syslog", tmp_path / "cp", MemoryPublisher()
    append(log, "x")  # 2 bytes, far below the 64-byte fingerprint
    run(log, cp, pub)
    append(log, *numbered("more", 5))
    run(log, cp, pub)
    assert lines_of(pub) == [b"x"] + [x.encode() for x in numbered("more", 5)]
    assert len({file for file, _ in origins_of(pub)}) == 1


def test_partial_last_line_waits_for_its_newline(tmp_path):
    log, cp, pub = tmp_path / "syslog", tmp_path / "cp", MemoryPublisher()
    log.write_bytes(b"complete\nhalf a li")
    run(log, cp, pub)
    assert lines_of(pub) == [b"complete"]
    with open(log, "ab") as f:
        f.write(b"ne\n")
    run(log, cp, pub)
    assert lines_of(pub) == [b"complete", b"half a line"]


def test_failed_delivery_is_retried_from_the_file_without_loss(tmp_path):
    log, cp, pub = tmp_path / "syslog", tmp_path / "cp", MemoryPublisher(down_for=2)
    lines = numbered("retry", 9)
    append(log, *lines)
    shipper = run(log, cp, pub)
    assert lines_of(pub) == [x.encode() for x in lines]
    assert shipper.summary.retries == 2


def test_long_line_is_cut_and_the_tail_goes_on(tmp_path):
    log, cp, pub = tmp_path / "syslog", tmp_path / "cp", MemoryPublisher()
    log.write_bytes(b"before\n" + b"L" * 20_000 + b"\nafter\n")  # longer than one 4 KiB read
    shipper = run(log, cp, pub, max_line=1000)
    got = lines_of(pub)
    assert got[0] == b"before" and got[2] == b"after"
    assert got[1].startswith(b"L" * 1000 + b" [kos: line cut, 19000 bytes dropped]")
    assert shipper.totals()["cut_lines"] == 1


def test_from_end_skips_the_existing_backlog(tmp_path):
    log, cp, pub = tmp_path / "syslog", tmp_path / "cp", MemoryPublisher()
    append(log, *numbered("old", 3))
    options = ShipOptions(paths=[str(log)], rotated=[], source_id="t", start_from="end")
    shipper = Shipper(options, pub, CheckpointStore(cp))
    append(log, "fresh")
    shipper.run(follow=False, stop=threading.Event())
    assert lines_of(pub) == [b"fresh"]


def test_globs_give_each_file_its_own_checkpoint(tmp_path):
    cp, pub = tmp_path / "cp", MemoryPublisher()
    (tmp_path / "a.log").write_bytes(b"a1\na2\n")
    (tmp_path / "b.log").write_bytes(b"b1\n")
    options = ShipOptions(paths=[str(tmp_path / "*.log")], rotated=["{path}.1"], source_id="t")
    Shipper(options, pub, CheckpointStore(cp)).run(follow=False, stop=threading.Event())
    assert sorted(lines_of(pub)) == [b"a1", b"a2", b"b1"]
    assert len(list(cp.glob("*.json"))) == 2


def test_a_new_file_in_place_of_a_deleted_one_is_read_from_its_start(tmp_path):
    """Whether or not the file system hands out the old inode again, the new content is another file."""
    log, cp, pub = tmp_path / "syslog", tmp_path / "cp", MemoryPublisher()
    append(log, *numbered("gone", 6))
    run(log, cp, pub)
    log.unlink()
    append(log, "Mar  2 00:00:00 other app[9]: replacement")
    run(log, cp, pub)
    assert lines_of(pub)[6:] == [b"Mar  2 00:00:00 other app[9]: replacement"]
    assert len(set(origins_of(pub))) == 7


# -- names as they come (newcomer bugs: literal brackets, escape sequences, bytes that are not UTF-8) --------------


def ship_paths(patterns: list[str], cp: Path, pub: MemoryPublisher) -> Shipper:
    options = ShipOptions(paths=patterns, rotated=["{path}.1"], source_id="t")
    shipper = Shipper(options, pub, CheckpointStore(cp))
    shipper.run(follow=False, stop=threading.Event())
    shipper.close()
    return shipper


def test_an_existing_name_with_glob_characters_is_that_file(tmp_path):
    """`app[1].log` and a name holding a CSI escape (ESC [) exist: they are files, not patterns."""
    cp, pub = tmp_path / "cp", MemoryPublisher()
    literal, csi = tmp_path / "app[1].log", tmp_path / "csi\x1b[31m.log"
    literal.write_bytes(b"from app[1]\n")
    csi.write_bytes(b"from csi\n")
    shipper = ship_paths([str(literal), str(csi)], cp, pub)
    assert lines_of(pub) == [b"from app[1]", b"from csi"]
    assert shipper.unmatched == {} and shipper.problems == {}


def test_a_pattern_or_path_that_names_no_file_is_reported(tmp_path):
    cp, pub = tmp_path / "cp", MemoryPublisher()
    (tmp_path / "real.log").write_bytes(b"x\n")
    shipper = ship_paths([str(tmp_path / "*.log"), str(tmp_path / "nope[0-9].log"), str(tmp_path / "gone.log")],
                         cp, pub)
    assert lines_of(pub) == [b"x"]
    assert shipper.unmatched == {str(tmp_path / "nope[0-9].log"): "no file matches it",
                                 str(tmp_path / "gone.log"): "no such file"}


def test_a_name_that_is_not_utf8_travels_byte_for_byte_and_resumes(tmp_path):
    """Paths are bytes: header, key and checkpoint carry them losslessly; the other files of the glob go on."""
    cp, pub = tmp_path / "cp", MemoryPublisher()
    raw = os.fsencode(str(tmp_path)) + b"/caf\xe9\xff.log"
    with open(raw, "wb") as f:
        f.write(b"first\n")
    (tmp_path / "plain.log").write_bytes(b"plain\n")
    ship_paths([str(tmp_path / "*.log")], cp, pub)
    assert sorted(lines_of(pub)) == [b"first", b"plain"]
    key, _, headers = next(sent for sent in pub.sent if sent[1] == b"first")
    assert dict(headers)["kos.path"] == raw
    assert key == b"t:" + raw
    stored = [json.loads(p.read_text()) for p in cp.glob("*.json")]
    assert sorted(base64.b64decode(c["path_b64"]) for c in stored) == sorted([raw, os.fsencode(str(tmp_path))
                                                                             + b"/plain.log"])
    with open(raw, "ab") as f:
        f.write(b"second\n")
    ship_paths([str(tmp_path / "*.log")], cp, pub)  # resumes from its checkpoint: nothing sent twice
    assert sorted(lines_of(pub)) == [b"first", b"plain", b"second"]


def test_following_a_glob_a_directory_or_fifo_that_appears_is_skipped_once(tmp_path, caplog):
    cp, pub = tmp_path / "cp", MemoryPublisher()
    watched = tmp_path / "logs"
    watched.mkdir()
    (watched / "a.log").write_bytes(b"a1\n")
    options = ShipOptions(paths=[str(watched / "*")], rotated=[], source_id="t", poll_seconds=0.02,
                          rescan_seconds=0.05)
    shipper = Shipper(options, pub, CheckpointStore(cp))
    stop = threading.Event()
    follower = threading.Thread(target=shipper.run, kwargs={"follow": True, "stop": stop})
    follower.start()
    try:
        wait(lambda: lines_of(pub) == [b"a1"])
        (watched / "sub").mkdir()
        os.mkfifo(watched / "pipe")
        wait(lambda: len(shipper.problems) == 2)
        (watched / "b.log").write_bytes(b"b1\n")
        append(watched / "a.log", "a2")
        wait(lambda: sorted(lines_of(pub)) == [b"a1", b"a2", b"b1"])
        time.sleep(0.3)  # several rescans: still one warning each
        assert follower.is_alive()
    finally:
        stop.set()
        follower.join()
        shipper.close()
    assert sorted(shipper.problems) == [str(watched / "pipe"), str(watched / "sub")]
    skipped = [r.getMessage() for r in caplog.records if "skipping it" in r.getMessage()]
    assert sorted(skipped) == [f"cannot ship {watched}/pipe: not a regular file; skipping it",
                               f"cannot ship {watched}/sub: not a regular file; skipping it"]


def test_a_corrupt_checkpoint_is_refused_not_reset(tmp_path):
    from shipper.errors import ShipperError

    log, cp, pub = tmp_path / "syslog", tmp_path / "cp", MemoryPublisher()
    append(log, *numbered("a", 4))
    run(log, cp, pub)
    checkpoint = next(cp.glob("*.json"))
    checkpoint.write_bytes(checkpoint.read_bytes()[:20])
    with pytest.raises(ShipperError, match=rf"the checkpoint {checkpoint} of {log} is corrupt \(JSONDecodeError\); "
                                           "the shipper will not guess where to resume"):
        make(log, cp, pub)
    assert len(pub.sent) == 2  # nothing sent again

"""The load job on the real broker and MariaDB: whatever arrives on the parsed topic, valid events are loaded once
and every other record becomes a dead letter with its bytes and the reason; the query never fails on a record."""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path

import pytest

from jobs import messages
from jobs.load import LOAD
from kosproto.descriptors import message_class
from tests.support.kafka import DeadLetter, produce, read_topic
from tests.support.submit import CHECKED_IN, PROJECT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DESCRIPTORS = CHECKED_IN.read_bytes()
ProcessEvent = message_class(DESCRIPTORS, messages.PROCESS_EVENT)


def event(offset: int, service: str = "Locale Service", **changes) -> bytes:
    fields = dict(event_time={"seconds": 1_790_000_000 + offset, "nanos": 500_000_000}, host="web",
                  process="systemd", pid=1, service=service, action="STARTED",
                  origin={"source": "src", "file": "fe01-1-1024-abcd-0", "offset": offset},
                  raw={"topic": "kos-raw-os-log", "partition": 0, "offset": offset})
    fields.update(changes)
    return ProcessEvent(**fields).SerializeToString()


def test_garbage_becomes_dead_letters_and_valid_events_around_it_load(cfg, pipeline_env, in_session, db):
    valid = [event(10, "Before Garbage"), event(20, "Between"), event(30, "After Garbage")]
    truncated = event(40)[:-7]
    letter = DeadLetter(data=b"x", reason="r", stage="transform").SerializeToString()
    typed = [("kos.type", b"kos.v1.ProcessEvent")]
    garbage = [
        # 64 random bytes, fixed by the seed, that the protobuf runtime refuses (wire format corrupt)
        (random.Random(0).randbytes(64), [], f"the bytes do not decode as a {messages.PROCESS_EVENT}"),
        (b"", [], f"{messages.PROCESS_EVENT} without event_time"),
        (None, [], "a record without a value"),
        (letter, [("kos.type", b"kos.v1.DeadLetter")], "a kos.v1.DeadLetter record, not a kos.v1.ProcessEvent"),
        (letter, [], None),  # the same without the header: its fields decode as something else, or not at all
        (truncated, typed, f"the bytes do not decode as a {messages.PROCESS_EVENT}"),
        (event(50, host=""), typed, f"{messages.PROCESS_EVENT} without host"),
        (event(60, action=0), typed, f"{messages.PROCESS_EVENT} with action ACTION_UNSPECIFIED"),
    ]
    records = [(valid[0], typed), *[(v, h) for v, h, _ in garbage[:4]], (valid[1], typed),
               *[(v, h) for v, h, _ in garbage[4:]], (valid[2], [])]
    produce(cfg, pipeline_env["KOS_KAFKA_PARSED_TOPIC"], records)

    done = in_session(LOAD, "--available-now")
    assert {k: done[k] for k in ("records", "added", "present", "dead_letters", "cut", "batches")} == {
        "records": 11, "added": 3, "present": 0, "dead_letters": 8, "cut": 0, "batches": 1}
    with db.connect() as conn:
        cur = conn.cursor()
        cur.execute("SELECT event_time, service, origin_offset FROM process_events ORDER BY origin_offset")
        assert cur.fetchall() == [(datetime(2026, 9, 21, 14, 13, 30, 500000), "Before Garbage", 10),
                                  (datetime(2026, 9, 21, 14, 13, 40, 500000), "Between", 20),
                                  (datetime(2026, 9, 21, 14, 13, 50, 500000), "After Garbage", 30)]

    dead = read_topic(cfg.kafka.bootstrap_servers, pipeline_env["KOS_KAFKA_DEAD_LETTER_TOPIC"])
    letters = sorted((DeadLetter.FromString(r.value) for r in dead), key=lambda m: m.record.offset)
    assert [dict(r.headers) for r in dead] == [{"kos.type": b"kos.v1.DeadLetter"}] * 8
    assert [(m.data, m.stage, m.record.offset) for m in letters] == [
        (value or b"", "load", offset) for offset, (value, _) in enumerate(records) if offset not in (0, 5, 10)]
    reasons = [m.reason for m in letters]
    for reason, (_, _, expected) in zip(reasons, garbage, strict=True):
        if expected is not None:
            assert reason == expected
        else:
            assert reason.startswith(("the bytes do not decode", f"{messages.PROCESS_EVENT} without"))

    # Run again: nothing new, nothing loaded twice, no dead letter twice (the checkpoint holds).
    again = in_session(LOAD, "--available-now")
    assert (again["records"], again.get("added", 0), again["batches"]) == (0, 0, 0)
    assert len(read_topic(cfg.kafka.bootstrap_servers, pipeline_env["KOS_KAFKA_DEAD_LETTER_TOPIC"])) == 8


def test_an_unreachable_database_is_one_line_before_any_record_is_read(in_session):
    said = in_session.failing(LOAD, "--available-now", KOS_MYSQL_PORT="1")
    assert said == ["kos-load: cannot connect to MySQL at 127.0.0.1:1 as kos_load: Can't connect to MySQL server on "
                    "'127.0.0.1:1' (Errno 111: Connection refused); start it with `kos stack start` or check the "
                    "KOS_MYSQL_* settings"]


def v2_descriptor_set(tmp_path) -> Path:
    """kos.v1 as the next release might have it: ProcessEvent with one field more (number 9)."""
    import subprocess
    import sys

    proto = (PROJECT / "proto" / "kos" / "v1" / "events.proto").read_text()
    (tmp_path / "v2" / "kos" / "v1").mkdir(parents=True)
    marker = "  KafkaRecord raw = 8;\n"
    assert marker in proto
    (tmp_path / "v2" / "kos" / "v1" / "events.proto").write_text(proto.replace(marker, marker + "  string unit = 9;\n"))
    out = tmp_path / "v2.desc"
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{tmp_path / 'v2'}", "--include_imports",
                    f"--descriptor_set_out={out}", "kos/v1/events.proto"], check=True)
    return out


def test_a_schema_change_loads_in_both_directions(cfg, pipeline_env, in_session, db, tmp_path):
    """A newer producer's events (one field more) load with the current schema; the current producer's events
    load with the newer schema (the field it does not write is simply absent). Nothing is lost either way."""
    newer = v2_descriptor_set(tmp_path)
    ProcessEventV2 = message_class(newer.read_bytes(), messages.PROCESS_EVENT)
    v2_record = ProcessEventV2.FromString(event(100, "Written By V2"))
    v2_record.unit = "foo.service"
    produce(cfg, pipeline_env["KOS_KAFKA_PARSED_TOPIC"], [(v2_record.SerializeToString(), [])])
    by_v1 = in_session(LOAD, "--available-now")
    assert (by_v1["records"], by_v1["added"], by_v1["present"], by_v1["dead_letters"]) == (1, 1, 0, 0)

    produce(cfg, pipeline_env["KOS_KAFKA_PARSED_TOPIC"], [(event(200, "Written By V1"), [])])
    by_v2 = in_session(LOAD, "--available-now", KOS_KAFKA_DESCRIPTOR_SET=str(newer))
    assert (by_v2["records"], by_v2["added"], by_v2["present"], by_v2["dead_letters"]) == (1, 1, 0, 0)
    with db.connect() as conn:
        cur = conn.cursor()
        cur.execute("SELECT service, origin_offset FROM process_events ORDER BY origin_offset")
        assert cur.fetchall() == [("Written By V2", 100), ("Written By V1", 200)]

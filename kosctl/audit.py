"""The audit: read source files again with the pipeline's own parsing rules and compare the start
events they hold with the rows of ``process_events``, file by file.

A file's events are found by the origin the shipper gave them: its source id, the file identity
and each line's byte offset. The identity is the one in the shipper's checkpoint that names the file,
or, for a file rotated away from the watched name, the one its rows carry (either way a file
fingerprinted while it was small is recognised). Lines after a checkpoint's offset are counted as
pending, not as missing; a rotated file counts whole. Event times are compared too: a classic
timestamp's year is worked out against the Kafka timestamp of the raw record the row came from
(``raw_timestamp``), as the transform worked it out. The file's unparseable candidates must each be
in ``kos-dead-letter``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.parsing import RAW_SCHEMA, candidate_lines, parse_lines
from kos import event
from kos.config import Config
from kos.kafka_client import python_settings, read_to_end
from shipper.checkpoint import Checkpoint, CheckpointStore
from shipper.identity import followed_key, identify
from shipper.records import record_headers, split_records
from storage.database import Database, failing_as

__all__ = ["FileAudit", "audit_files", "compare", "dead_letter_origins", "expected_events", "file_identity",
           "file_records", "stored_events", "stored_files"]

Fields = tuple  # event_time, host, process, pid, service, action


@dataclass(frozen=True)
class FileAudit:
    path: str
    file_key: str
    expected: int
    present: int
    missing: list[int] = field(default_factory=list)       # offsets of events with no row
    unexpected: list[int] = field(default_factory=list)    # offsets of rows with no event in the file
    differing: list[int] = field(default_factory=list)     # offsets whose row holds other fields
    dead_letters: int = 0
    pending: int = 0  # events after the shipper's checkpoint, not shipped yet
    dead_letters_missing: list[int] = field(default_factory=list)  # offsets of unparseable lines not in the topic

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.differing or self.dead_letters_missing)

    def line(self) -> str:
        def offsets(values: list[int]) -> str:
            shown = ", ".join(str(v) for v in values[:5])
            return f" (at byte {shown}{', ...' if len(values) > 5 else ''})" if values else ""

        return (f"{self.path} [{self.file_key}]: {self.expected} start events expected, {self.present} rows present, "
                f"{len(self.missing)} missing{offsets(self.missing)}, {len(self.unexpected)} unexpected"
                f"{offsets(self.unexpected)}, {len(self.differing)} differing{offsets(self.differing)}; "
                f"{self.dead_letters} dead letters expected, {len(self.dead_letters_missing)} not in the dead-letter "
                f"topic{offsets(self.dead_letters_missing)}; {self.pending} events not shipped yet")


def compare(path: str, file_key: str, expected: dict[int, Fields], present: dict[int, Fields],
            shipped_to: int, dead_expected: Iterable[int], dead_found: Iterable[int]) -> FileAudit:
    """The audit of one file from its expected events and its rows, both by line offset, and from the offsets
    of its unparseable lines and of the dead letters found for it."""
    shipped = {o: f for o, f in expected.items() if o < shipped_to}
    dead = sorted(o for o in dead_expected if o < shipped_to)
    return FileAudit(
        path=path, file_key=file_key, expected=len(shipped), present=len(present),
        missing=sorted(set(shipped) - set(present)),
        unexpected=sorted(set(present) - set(shipped)),
        differing=sorted(o for o in set(shipped) & set(present) if shipped[o] != present[o]),
        dead_letters=len(dead), pending=len(expected) - len(shipped),
        dead_letters_missing=sorted(set(dead) - set(dead_found)),
    )


def file_records(data: bytes, source: str, path: str, file_key: str, max_line_bytes: int,
                 read_at: dict[int, datetime], default: datetime) -> list[tuple]:
    """The file's complete lines as raw records, one line each, with the origin headers the shipper
    gives them (and the same cut of over-long lines), stamped with the time the line was read
    (``read_at`` by offset, ``default`` for lines without a row)."""
    records, _ = split_records(data, 0, lines_per_record=1, max_line_bytes=max_line_bytes,
                               max_record_bytes=max(len(data), 1))
    return [(bytearray(r.value), record_headers(source, path, file_key, r.offset, r.cut), "audit", 0, i,
             read_at.get(r.offset, default).replace(tzinfo=None)) for i, r in enumerate(records)]


def expected_events(spark: SparkSession, records: list[tuple], time_zone: str, year: int | None
                    ) -> tuple[dict[int, Fields], list[int]]:
    """The events of ``records`` by line offset, and the offsets of the dead letters."""
    if not records:
        return {}, []
    parsed = parse_lines(candidate_lines(spark.createDataFrame(records, RAW_SCHEMA)), time_zone, year).cache()
    events = {r["origin_offset"]: tuple(r[name] for name in event.FIELDS)
              for r in parsed.where(F.col("status") == "event").collect()}
    dead = [r["origin_offset"] for r in
            parsed.where(F.col("status") == "dead_letter").select("origin_offset").collect()]
    parsed.unpersist()
    return events, dead


def stored_events(db: Database, source: str, file_key: str) -> tuple[dict[int, Fields], dict[int, datetime]]:
    """The rows of a file by offset, and the Kafka timestamps their raw records had."""
    rows = _query(db, f"SELECT origin_offset, {', '.join(event.FIELDS)}, raw_timestamp "
                      "FROM process_events WHERE origin_source = %s AND origin_file = %s", (source, file_key))
    return ({row[0]: tuple(row[1:7]) for row in rows},  # type: ignore[misc]
            {row[0]: row[7] for row in rows if row[7] is not None})  # type: ignore[misc]


def stored_files(db: Database, source: str) -> set[str]:
    """The origin keys of the files ``source`` has rows of."""
    return {row[0] for row in _query(db, "SELECT DISTINCT origin_file FROM process_events WHERE origin_source = %s",
                                     (source,))}


def _query(db: Database, sql: str, params: tuple) -> list[tuple]:
    with db.connect() as conn, failing_as(f"reading process_events as {db.user}"):
        cur = conn.cursor()
        cur.execute(sql, params)
        return cur.fetchall()


def dead_letter_origins(cfg: Config) -> set[tuple[str, str, int]]:
    """The origins (source, file, offset) of the transform's dead letters in ``kos-dead-letter``, read whole."""
    from jobs import messages
    from kosproto.descriptors import message_class

    letter = message_class(cfg.path(cfg.kafka.descriptor_set).read_bytes(), messages.DEAD_LETTER)
    found = set()
    for record in read_to_end(python_settings(cfg), cfg.kafka.dead_letter_topic):
        try:
            m = letter.FromString(record.value or b"")
        except Exception:  # noqa: BLE001 - not one of ours: it cannot stand for a line
            continue
        if m.stage == "transform" and m.HasField("origin"):
            found.add((m.origin.source, m.origin.file, m.origin.offset))
    return found


def file_identity(path: str, checkpoints: list[Checkpoint], known_keys: Iterable[str], fingerprint_bytes: int
                  ) -> tuple[str, int]:
    """The identity (as a record's origin key) the shipper gave the file at ``path``, and how far it shipped it.

    A file a checkpoint names (under any watched path) was shipped to the checkpoint's offset. A file the
    pipeline has rows or dead letters of but no checkpoint names was followed under another name and left
    behind, finished (a rotated file): all of it counts. Any other file was never shipped (0)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        for done in checkpoints:
            if done.identity.same_file(fd):
                return done.identity.key, done.offset
        followed = followed_key(known_keys, fd)
        if followed is not None:
            return followed, os.fstat(fd).st_size
        return identify(fd, fingerprint_bytes).key, 0
    finally:
        os.close(fd)


def audit_files(spark: SparkSession, db: Database, paths: Iterable[str], source: str, checkpoints: CheckpointStore,
                fingerprint_bytes: int, max_line_bytes: int, dead_letters: set[tuple[str, str, int]],
                time_zone: str = "UTC", year: int | None = None) -> list[FileAudit]:
    results = []
    shipped = checkpoints.load_all()
    known = stored_files(db, source) | {f for s, f, _ in dead_letters if s == source}
    for path in paths:
        key, shipped_to = file_identity(path, shipped, known, fingerprint_bytes)
        present, read_at = stored_events(db, source, key)
        records = file_records(Path(path).read_bytes(), source, path, key, max_line_bytes, read_at,
                               datetime.now(UTC))
        expected, dead = expected_events(spark, records, time_zone, year)
        found = [offset for s, f, offset in dead_letters if (s, f) == (source, key)]
        results.append(compare(path, key, expected, present, shipped_to, dead, found))
    return results

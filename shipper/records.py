"""Cutting a file's bytes into Kafka records: pure functions, no I/O.

A record's value is a run of consecutive complete lines exactly as they are in the
file, joined by their newlines, without the last newline. So the byte offset of any
line in a record is the record's offset plus the line's position in the value: a
replayed record carries the same origins as the first time. A line longer than the
maximum is cut, marked, and always ends its record, so that rule still holds for
every line before it.
"""

from __future__ import annotations

from dataclasses import dataclass

CUT_MARKER = b" [kos: line cut, %d bytes dropped]"


@dataclass(frozen=True)
class Record:
    offset: int  # file offset of the first line
    value: bytes
    lines: int
    end: int  # file offset just after the last line's newline
    cut: int = 0  # bytes dropped from the last line (0: nothing was cut)


def split_records(
    buf: bytes,
    offset: int,
    *,
    lines_per_record: int,
    max_line_bytes: int,
    max_record_bytes: int,
) -> tuple[list[Record], int]:
    """Cut the complete lines at the start of ``buf`` (read from file ``offset``) into records.

    Returns the records and how many bytes of ``buf`` they consumed; the rest (a
    partial last line, or the start of a line longer than ``buf``) is left for the
    caller to read again with more data.
    """
    records: list[Record] = []
    start = pos = 0
    lines = 0
    find = buf.find
    while True:
        nl = find(b"\n", pos)
        if nl < 0:
            break
        if nl - pos > max_line_bytes:
            if lines:
                records.append(Record(offset + start, buf[start : pos - 1], lines, offset + pos))
            dropped = nl - pos - max_line_bytes
            value = buf[pos : pos + max_line_bytes] + CUT_MARKER % dropped
            records.append(Record(offset + pos, value, 1, offset + nl + 1, cut=dropped))
            start = pos = nl + 1
            lines = 0
            continue
        lines += 1
        pos = nl + 1
        if lines >= lines_per_record or pos - start >= max_record_bytes:
            records.append(Record(offset + start, buf[start:nl], lines, offset + pos))
            start = pos
            lines = 0
    if lines:
        records.append(Record(offset + start, buf[start : pos - 1], lines, offset + pos))
    return records, pos


def cut_line(head: bytes, line_length: int, offset: int, max_line_bytes: int) -> Record:
    """The record for one line of ``line_length`` bytes (newline excluded) whose first bytes are ``head``.

    Used for lines too long to hold in one read: only the head is kept in memory.
    """
    if line_length <= max_line_bytes:
        return Record(offset, head[:line_length], 1, offset + line_length + 1)
    dropped = line_length - max_line_bytes
    return Record(offset, head[:max_line_bytes] + CUT_MARKER % dropped, 1, offset + line_length + 1, cut=dropped)

"""Cutting a file's bytes into Kafka records: pure functions, no I/O.

A record's value is a run of consecutive complete lines exactly as they are in the
file, joined by their newlines, without the last newline. So the byte offset of any
line in a record is the record's offset plus the line's position in the value: a
replayed record carries the same origins as the first time. A line longer than the
maximum is cut, marked, and always ends its record, so that rule still holds for
every line before it.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from dataclasses import dataclass
from itertools import accumulate, repeat
from operator import add

from kos import headers as names

__all__ = ["CUT_MARKER", "Headers", "Record", "cut_line", "record_headers", "record_key", "split_records"]

CUT_MARKER = b" [kos: line cut, %d bytes dropped]"

Headers = list[tuple[str, bytes]]


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
    caller to read again with more data. A record ends after ``lines_per_record``
    lines or at the first line that brings it to ``max_record_bytes``.
    """
    lines = buf.split(b"\n")[:-1]  # the last piece has no newline yet
    if not lines:
        return [], 0
    lengths = list(map(len, lines))
    if max(lengths) > max_line_bytes:
        return _split_cutting(buf, offset, lines_per_record, max_line_bytes, max_record_bytes)
    # The common case without a Python step per line: ends[i] is where line i's newline ends, in buf.
    ends = list(accumulate(map(add, lengths, repeat(1))))
    records: list[Record] = []
    first, start, count = 0, 0, len(lines)
    while first < count:
        last = min(first + lines_per_record, count)  # one past the record's last line
        if ends[last - 1] - start >= max_record_bytes:
            last = bisect_left(ends, start + max_record_bytes, first, last) + 1
        end = ends[last - 1]
        records.append(Record(offset + start, buf[start : end - 1], last - first, offset + end))
        first, start = last, end
    return records, start


def _split_cutting(buf: bytes, offset: int, lines_per_record: int, max_line_bytes: int,
                   max_record_bytes: int) -> tuple[list[Record], int]:
    """``split_records`` line by line, for a buffer holding a line longer than ``max_line_bytes``."""
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


def record_headers(source_id: str, path: str, file_key: str, offset: int, cut: int) -> Headers:
    """The origin of a record's first line: which machine, which path, which file, which byte.

    Text is encoded the way the system names files (``os.fsencode``), so a path that is not UTF-8
    travels byte for byte.
    """
    headers = [
        (names.SOURCE, os.fsencode(source_id)),
        (names.PATH, os.fsencode(path)),
        (names.FILE, file_key.encode()),
        (names.OFFSET, str(offset).encode()),
    ]
    if cut:
        headers.append((names.CUT, str(cut).encode()))
    return headers


def record_key(source_id: str, path: str) -> bytes:
    """The key of every record of one watched path: its lines stay in order on one partition."""
    return os.fsencode(source_id) + b":" + os.fsencode(path)

"""Cutting bytes into records: offsets, grouping, long lines, partial lines."""

from hypothesis import given
from hypothesis import strategies as st

from shipper.records import CUT_MARKER, Record, cut_line, split_records


def split(buf: bytes, offset: int = 0, k: int = 2, max_line: int = 100, max_record: int = 1000):
    return split_records(buf, offset, lines_per_record=k, max_line_bytes=max_line, max_record_bytes=max_record)


def test_groups_lines_and_keeps_file_offsets():
    buf = b"aa\nbbb\nc\ndddd\n"
    records, used = split(buf, offset=1000)
    assert used == len(buf)
    assert [(r.offset, r.value, r.lines, r.end) for r in records] == [
        (1000, b"aa\nbbb", 2, 1007),
        (1007, b"c\ndddd", 2, 1014),
    ]
    # Each line's origin offset, derived from the record, points at that line in the file.
    for r in records:
        off = r.offset
        for line in r.value.split(b"\n"):
            assert buf[off - 1000 : off - 1000 + len(line)] == line
            off += len(line) + 1


def test_partial_last_line_is_left_for_later():
    records, used = split(b"one\ntwo\nthr", k=10)
    assert [r.value for r in records] == [b"one\ntwo"]
    assert used == 8


def test_no_complete_line_means_no_record():
    assert split(b"no newline yet") == ([], 0)


def test_empty_lines_are_kept():
    records, _ = split(b"\n\nx\n", k=10)
    assert [(r.value, r.lines) for r in records] == [(b"\n\nx", 3)]


def test_long_line_is_cut_marked_and_ends_its_record():
    buf = b"a\n" + b"x" * 250 + b"\nb\n"
    records, used = split(buf, k=10, max_line=100)
    assert used == len(buf)
    assert [(r.offset, r.lines, r.cut) for r in records] == [(0, 1, 0), (2, 1, 150), (253, 1, 0)]
    assert records[1].value == b"x" * 100 + CUT_MARKER % 150
    assert records[2].value == b"b"


def test_record_size_limit_starts_a_new_record():
    records, _ = split(b"aaaa\nbbbb\ncccc\n", k=100, max_record=8)
    assert [r.value for r in records] == [b"aaaa\nbbbb", b"cccc"]


def test_bytes_pass_through_untouched():
    buf = b"\xff\xfe\x00bad utf-8 \xc3\x28\n\x00\x00\n"
    records, _ = split(buf, k=10)
    assert records[0].value == buf[:-1]


def test_cut_line_for_a_line_longer_than_one_read():
    rec = cut_line(b"y" * 10, line_length=5_000_000, offset=7, max_line_bytes=10)
    assert (rec.offset, rec.end, rec.cut) == (7, 7 + 5_000_000 + 1, 4_999_990)
    assert rec.value == b"y" * 10 + CUT_MARKER % 4_999_990
    short = cut_line(b"abc", line_length=3, offset=0, max_line_bytes=10)
    assert (short.value, short.cut, short.end) == (b"abc", 0, 4)


def model_records(buf: bytes, offset: int, k: int, max_line: int, max_record: int) -> tuple[list[Record], int]:
    """The record rules restated line by line, independently of shipper/records.py: a line longer than
    ``max_line`` ends the record before it and is a record of its own, cut; otherwise a record ends after ``k``
    lines or at the first line that brings it (newlines counted) to ``max_record`` bytes."""
    records: list[Record] = []
    current: list[tuple[int, bytes]] = []  # (position in buf, line) of the record being made

    def close() -> None:
        if current:
            first, (last, line) = current[0][0], current[-1]
            records.append(Record(offset + first, b"\n".join(text for _, text in current), len(current),
                                  offset + last + len(line) + 1))
            current.clear()

    position = 0
    for line in buf.split(b"\n")[:-1]:
        if len(line) > max_line:
            close()
            dropped = len(line) - max_line
            records.append(Record(offset + position, line[:max_line] + CUT_MARKER % dropped, 1,
                                  offset + position + len(line) + 1, cut=dropped))
        else:
            current.append((position, line))
            if len(current) == k or position + len(line) + 1 - current[0][0] >= max_record:
                close()
        position += len(line) + 1
    close()
    return records, position


@given(st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=60), st.binary(max_size=10),
       st.integers(1, 8), st.integers(1, 200), st.integers(5, 50))
def test_records_follow_the_rules_over_long_and_short_lines(lines, tail, k, max_record, max_line):
    """Both of split_records' ways (C-level splitting without over-long lines, line by line with them) against
    the model."""
    buf = b"".join(line + b"\n" for line in lines) + tail.replace(b"\n", b"")
    got = split_records(buf, 77, lines_per_record=k, max_line_bytes=max_line, max_record_bytes=max_record)
    assert got == model_records(buf, 77, k, max_line, max_record)

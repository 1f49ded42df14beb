"""Cutting bytes into records: offsets, grouping, long lines, partial lines."""

from hypothesis import given
from hypothesis import strategies as st

from shipper.records import CUT_MARKER, cut_line, split_records


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


@given(st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=60), st.binary(max_size=10),
       st.integers(1, 8), st.integers(1, 200), st.integers(5, 50))
def test_the_fast_cut_equals_the_line_by_line_cut(lines, tail, k, max_record, max_line):
    """Without over-long lines the records come from C-level splitting; they must be those of the line loop."""
    from shipper.records import _split_cutting

    buf = b"".join(line + b"\n" for line in lines) + tail.replace(b"\n", b"")
    fast = split_records(buf, 77, lines_per_record=k, max_line_bytes=max_line, max_record_bytes=max_record)
    assert fast == _split_cutting(buf, 77, k, max_line, max_record)

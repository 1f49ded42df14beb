"""Properties of the parser over generated input: never an exception, and valid lines round-trip exactly."""

from __future__ import annotations

from datetime import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs.parsing import candidate_lines, parse_lines
from tests.unit.jobs.test_parsing import RAW_SCHEMA, record

PROPS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

no_newline = st.text(st.characters(exclude_characters="\n", exclude_categories=["Cs"]), min_size=1, max_size=40)
host = st.text(st.characters(exclude_characters=" \t\n\x0b\x0c\r", exclude_categories=("Cs", "Zs", "Zl", "Zp",
                                                                                         "Cc")), min_size=1,
               max_size=20)
tag = st.text(st.characters(exclude_characters=" \t\n\x0b\x0c\r[:", exclude_categories=("Cs", "Zs", "Zl", "Zp",
                                                                                          "Cc")), min_size=1,
              max_size=20)
service = no_newline.filter(lambda s: "'" not in s and s.strip() != "" and not s.endswith("."))
moment = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 12, 31)).map(
    lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))


@st.composite
def valid_line(draw):
    t, h, p, s = draw(moment), draw(host), draw(tag), draw(service)
    pid = draw(st.none() | st.integers(min_value=0, max_value=4_194_304))
    activated = draw(st.booleans())
    stamp = t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
    message = f"[system] Successfully activated service '{s}'" if activated else f"Started {s}."
    line = f"{stamp} {h} {p}{'' if pid is None else f'[{pid}]'}: {message}"
    return line, (t, h, p, pid, s, "ACTIVATED" if activated else "STARTED")


@PROPS
@given(st.lists(valid_line(), min_size=1, max_size=40))
def test_valid_lines_round_trip_their_fields(spark, lines):
    raws = [record(line.encode()) for line, _ in lines]
    got = parse_lines(candidate_lines(spark.createDataFrame(raws, RAW_SCHEMA))).collect()
    assert [(r.status, r.reason) for r in got] == [("event", None)] * len(lines)
    assert [(r.event_time, r.host, r.process, r.pid, r.service, r.action) for r in got] == [f for _, f in lines]


@PROPS
@given(st.lists(st.binary(max_size=300) | st.builds(lambda a, b: a + b"Started " + b, st.binary(max_size=60),
                                                    st.binary(max_size=60)),
                min_size=1, max_size=40))
def test_any_bytes_give_an_event_a_non_event_or_a_dead_letter(spark, values):
    raws = [record(v, offset=i) for i, v in enumerate(values)]
    got = parse_lines(candidate_lines(spark.createDataFrame(raws, RAW_SCHEMA))).collect()
    for r in got:
        assert r.status in ("event", "not_event", "dead_letter")
        assert (r.reason is None) == (r.status != "dead_letter")
        if r.status == "event":
            assert r.event_time is not None and r.service and r.action in ("STARTED", "ACTIVATED")
    expected_candidates = sum(1 for v in values for line in v.split(b"\n")
                              if b"Started " in line or b"Successfully activated" in line)
    assert len(got) == expected_candidates


header = st.tuples(st.sampled_from(["kos.source", "kos.file", "kos.offset", "kos.path", "x-other", ""]),
                   st.none() | st.binary(max_size=30))


@PROPS
@given(st.lists(st.tuples(st.binary(max_size=120), st.none() | st.lists(header, max_size=5)), min_size=1, max_size=30))
def test_any_headers_leave_every_candidate_parsed_with_an_origin(spark, values):
    """A record may carry any headers, with any values, or none: every candidate line is parsed and has an origin
    (the query never fails on them)."""
    raws = [(bytearray(v + b"\nFeb 24 20:29:43 h systemd[1]: Started X."), h, "t", 0, i, datetime(2026, 1, 1))
            for i, (v, h) in enumerate(values)]
    got = parse_lines(candidate_lines(spark.createDataFrame(raws, RAW_SCHEMA))).collect()
    assert all(r.origin_source is not None and r.origin_file and r.origin_offset >= 0 for r in got)
    candidates = sum(1 for v, _ in values for line in v.split(b"\n")
                     if b"Started " in line or b"Successfully activated" in line) + len(values)
    assert len(got) == candidates

"""Properties of the parser over generated input: never an exception, and valid lines round-trip exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

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


ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Apia", "America/St_Johns")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def year_rule(month: int, day: int, clock: tuple[int, int, int], read_at: datetime, zone: str) -> datetime | None:
    """The year rule as jobs/parsing.py states it, by brute force in Python's zoneinfo: the latest
    year, from the year after the one the line was read in (in ``zone``) back to eight years before it, in which the
    date exists and its instant is at most a day after ``read_at`` (naive UTC); the instant as naive UTC, or None."""
    z = ZoneInfo(zone)
    read_year = read_at.replace(tzinfo=UTC).astimezone(z).year
    for year in range(read_year + 1, read_year - 9, -1):
        try:
            local = datetime(year, month, day, *clock, tzinfo=z)
        except ValueError:
            continue
        instant = local.astimezone(UTC).replace(tzinfo=None)
        if instant <= read_at + timedelta(days=1):
            return instant
    return None


@st.composite
def classic_case(draw, zone: str):
    """A classic stamp and the time its line was read: stamps near the read time (the year boundary, a day after)
    or any day of any month (Feb 29, Apr 31), read times around years with and without Feb 29 (2096-2104)."""
    read_at = draw(st.one_of(
        st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2110, 12, 31)),
        st.builds(lambda y, s: datetime(y, 12, 30) + timedelta(seconds=s), st.integers(1995, 2106),
                  st.integers(0, 3 * 86400))))
    if draw(st.booleans()):
        seconds = draw(st.integers(-2 * 86400, 2 * 86400))
        local = (read_at.replace(tzinfo=UTC) + timedelta(seconds=seconds)).astimezone(ZoneInfo(zone))
        month, day, clock = local.month, local.day, (local.hour, local.minute, local.second)
    else:
        month, day = draw(st.sampled_from([(2, 29), (2, 28), (12, 31), (1, 1), (4, 31), (2, 30)])
                          | st.tuples(st.integers(1, 12), st.sampled_from([1, 15, 28, 29, 30, 31])))
        clock = (draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 59)))
    return month, day, clock, read_at.replace(microsecond=0)


@settings(PROPS, max_examples=8)
@given(st.sampled_from(ZONES).flatmap(lambda z: st.tuples(st.just(z), st.lists(classic_case(z), min_size=100,
                                                                                max_size=150))))
def test_year_rule_agrees_with_a_brute_force_search(spark, zone_and_cases):
    """Each classic stamp gets the instant the year rule's brute-force search gives (dead letter where it gives
    none), in zones with daylight saving, half-hour shifts and a skipped day."""
    zone, cases = zone_and_cases
    raws = [record(f"{MONTHS[m - 1]} {d:2d} {h:02d}:{mi:02d}:{s:02d} h systemd[1]: Started X.".encode(), offset=i,
                   read_at=read_at.replace(tzinfo=UTC))
            for i, (m, d, (h, mi, s), read_at) in enumerate(cases)]
    got = parse_lines(candidate_lines(spark.createDataFrame(raws, RAW_SCHEMA)), time_zone=zone).collect()
    expected = [year_rule(m, d, clock, read_at, zone) for m, d, clock, read_at in cases]
    assert [(r.kafka_offset, r.event_time) for r in got] == list(enumerate(expected))
    assert [r.status for r in got] == ["event" if e else "dead_letter" for e in expected]

"""The report: text and HTML rendering of a metrics run (pure), and the page as headless Chromium draws it."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from kos.text import printable
from report.render import bucket_table, hosts_table, over_time, render_html, render_text, write_report
from report.spans import heat
from storage.metrics_tables import UNBOUNDED_FROM, UNBOUNDED_TO, Period, Results

HOSTILE = "<script>alert(1)</script>"


def results(buckets: list[tuple[datetime, str, int]] | None = None) -> Results:
    return Results(
        period=Period(datetime(2026, 3, 1, 10, tzinfo=UTC), datetime(2026, 3, 1, 12, tzinfo=UTC)),
        bucket="hour", top=5, events=4,
        first=datetime(2026, 3, 1, 10, 0, 5), last=datetime(2026, 3, 1, 11, 5),
        services=[(1, "Locale Service", 2), (2, HOSTILE, 1), (3, "x\x1b[2Jy & 'z'", 1)],
        processes=[(1, "systemd", 3), (2, "dbus-daemon", 1)],
        buckets=buckets if buckets is not None else [
            (datetime(2026, 3, 1, 10), "", 3), (datetime(2026, 3, 1, 10), "db", 1),
            (datetime(2026, 3, 1, 10), "web", 2), (datetime(2026, 3, 1, 11), "", 1),
            (datetime(2026, 3, 1, 11), "db", 1)],
        made_at=datetime(2026, 3, 2, 8, 30, tzinfo=UTC),
    )


class Page(HTMLParser):
    """Tags seen, and the text of each table's cells row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.tables: list[list[list[str]]] = []
        self.images: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(dict(attrs)["src"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse(page: str) -> Page:
    parser = Page()
    parser.feed(page)
    return parser


def test_printable_shows_control_and_invisible_characters():
    assert printable("a\x1b[31mb\x07") == "a\\x1b[31mb\\x07"
    assert printable("rtl\u202eevil\u200b") == "rtl\\u202eevil\\u200b"
    assert printable("tab\tstays, é stays") == "tab\tstays, é stays"


def test_text_report_neutralises_terminal_escapes():
    text = render_text(results())
    assert "\x1b" not in text
    assert "    3.        1  x\\x1b[2Jy & 'z'" in text.splitlines()
    assert text.splitlines()[0] == "4 start events from 2026-03-01 10:00:05 to 2026-03-01 11:05:00 (UTC)"


def test_html_report_holds_the_tables_as_text():
    page = parse(render_html(results(), {"chart": b"\x89PNG fake"}))
    assert "script" not in page.tags
    services, processes, per_bucket, hosts = page.tables
    assert services == [["rank", "service", "starts"], ["1", "Locale Service", "2"], ["2", HOSTILE, "1"],
                        ["3", "x\\x1b[2Jy & 'z'", "1"]]
    assert processes == [["rank", "process", "starts"], ["1", "systemd", "3"], ["2", "dbus-daemon", "1"]]
    assert per_bucket == [["hour (UTC)", "all hosts", "db", "web"],
                          ["2026-03-01 10:00", "3", "1", "2"], ["2026-03-01 11:00", "1", "1", "0"]]
    assert hosts == [["rank", "host", "starts", "share"], ["1", "db", "2", "50.0 %"], ["2", "web", "2", "50.0 %"]]
    assert page.images == ["data:image/png;base64,iVBORyBmYWtl"]


def test_bucket_table_keeps_the_last_buckets_and_groups_quiet_hosts():
    rows = []
    for minute in range(5):
        t = datetime(2026, 3, 1, 0, minute)
        rows += [(t, "", 6), (t, "a", 3), (t, "b", 2), (t, "c", 1)]
    header, table = bucket_table(replace(results(rows), bucket="minute"), shown_buckets=2, shown_hosts=2)
    assert header == ["minute (UTC)", "all hosts", "a", "b", "1 other hosts"]
    assert table == [["2026-03-01 00:03", 6, 3, 2, 1], ["2026-03-01 00:04", 6, 3, 2, 1]]


def spread(days: int, hosts: int, bucket: str = "minute") -> Results:
    """Starts every hour for ``days`` days on ``hosts`` hosts, host i starting i + 1 services an hour."""
    rows = []
    for hour in range(days * 24):
        t = datetime(2026, 3, 1) + timedelta(hours=hour)
        rows += [(t, f"host-{i:03d}", i + 1) for i in range(hosts)] + [(t, "", hosts * (hosts + 1) // 2)]
    return replace(results(rows), bucket=bucket)


@pytest.mark.parametrize(("days", "step"), [(1, "hour"), (30, "day"), (200, "week"), (800, "month")])
def test_the_step_suits_the_span(days, step):
    assert over_time(spread(days, 2)).step == step


def test_a_month_of_a_hundred_hosts_reads_as_top_hosts_and_the_others():
    month = spread(30, 100, "hour")
    header, table = bucket_table(month)
    assert header == ["day (UTC)", "all hosts", "host-099", "host-098", "host-097", "host-096", "host-095",
                      "95 other hosts"]
    assert len(table) == 30 and table[0] == ["2026-03-01", 24 * 5050, 2400, 2376, 2352, 2328, 2304,
                                             24 * (5050 - 100 - 99 - 98 - 97 - 96)]
    hosts = hosts_table(month)
    assert hosts[0] == [1, "host-099", 30 * 24 * 100, "2.0 %"] and len(hosts) == 11
    assert hosts[-1] == ["", "the other 90 hosts", 720 * sum(range(1, 91)), f"{100 * sum(range(1, 91)) / 5050:.1f} %"]
    text = render_text(month)
    assert "Busiest hosts (100 in all):" in text and "the other 90 hosts" in text
    assert "Starts per day (all hosts):" in text


def test_years_with_few_busy_days_are_drawn_as_only_those_days(tmp_path):
    rows = [(datetime(2020, 5, 1, 10), "", 1), (datetime(2020, 5, 1, 10), "a", 1),
            (datetime(2026, 3, 1, 10), "", 42), (datetime(2026, 3, 1, 10), "b", 42)]
    grid = over_time(replace(results(rows), bucket="hour"))
    assert grid.step == "month" and list(grid.totals.values()) == [1, 42] and grid.steps_in_span() == 71
    header, table = bucket_table(replace(results(rows), bucket="hour"))
    assert table == [["2020-05", 1, 0, 1], ["2026-03", 42, 42, 0]]


def test_the_heat_map_is_hosts_by_hour_of_day_or_day_of_week():
    axis, hosts, columns, counts = heat(spread(2, 12).buckets, "minute", 10)
    assert axis == "hour of day (UTC)" and len(columns) == 24
    assert hosts == [f"host-{i:03d}" for i in range(11, 1, -1)] + ["2 other hosts"]
    assert counts[0] == [24] * 24 and counts[-1] == [2 * (1 + 2)] * 24
    axis, _, columns, counts = heat(spread(7, 1).buckets, "day", 10)
    assert axis == "day of week (UTC)" and columns[0] == "Mon" and counts == [[24] * 7]


def test_an_empty_period_renders():
    empty = Results(Period(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)), "minute", 10, 0,
                    None, None, [], [], [], datetime(2026, 3, 2, tzinfo=UTC))
    assert render_text(empty).splitlines()[0] == "no start events"
    assert parse(render_html(empty, {})).tables[2:] == [[["minute (UTC)", "all hosts"]],
                                                        [["rank", "host", "starts", "share"]]]


def test_an_empty_period_draws_no_charts_and_says_so(tmp_path):
    empty = Results(Period(UNBOUNDED_FROM, UNBOUNDED_TO), "hour", 10, 0, None, None, [], [], [],
                    datetime(2026, 3, 2, tzinfo=UTC))
    written = write_report(tmp_path, empty)
    assert sorted(p.name for p in written) == ["report.html", "starts_per_hour.csv", "top_processes.csv",
                                               "top_services.csv"]
    page = (tmp_path / "report.html").read_text()
    assert "<img" not in page and "No start events stored for this period: nothing to chart." in page
    assert "<img" in render_html(results(), {"a chart": b"png"})  # with events, the charts are there


CHROMIUM = shutil.which("chromium")


def chromium(*args: str) -> subprocess.CompletedProcess:
    assert CHROMIUM, "chromium is not installed: run `make setup`"
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--allow-file-access-from-files", *args], capture_output=True, timeout=120)


def bar_pixels(png: Path) -> int:
    """Pixels of the bar charts' blue (#3b6ea8) in a screenshot."""
    import matplotlib.image

    image = matplotlib.image.imread(png)[:, :, :3]
    blue = (abs(image[:, :, 0] - 0x3B / 255) < 0.02) & (abs(image[:, :, 1] - 0x6E / 255) < 0.02) & \
           (abs(image[:, :, 2] - 0xA8 / 255) < 0.02)
    return int(blue.sum())


@pytest.mark.integration
def test_chromium_renders_the_charts_and_tables(tmp_path):
    files = write_report(tmp_path / "report", results())
    page = tmp_path / "report" / "report.html"
    assert sorted(f.name for f in files) == sorted([
        "top_services.csv", "top_processes.csv", "starts_per_hour.csv", "top_services.png",
        "top_processes.png", "starts_over_time.png", "starts_heat_map.png", "report.html"])

    dom = chromium("--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr.decode()[-2000:]
    rendered = parse(dom.stdout.decode())
    assert "script" not in rendered.tags
    assert rendered.tables[0][2] == ["2", HOSTILE, "1"]
    assert len(rendered.images) == 4 and all(src.startswith("data:image/png;base64,") for src in rendered.images)

    shot = tmp_path / "report.png"
    drawn = chromium(f"--screenshot={shot}", "--window-size=1200,2600", page.as_uri())
    assert drawn.returncode == 0, drawn.stderr.decode()[-2000:]
    # The two bar charts' bars are drawn: thousands of pixels of their colour, none when images fail.
    assert bar_pixels(shot) > 5_000
    broken = tmp_path / "report" / "broken.html"
    broken.write_text(page.read_text().replace("data:image/png;base64,", "data:image/png;base64,AAAA"))
    chromium(f"--screenshot={tmp_path / 'broken.png'}", "--window-size=1200,2600", broken.as_uri())
    assert bar_pixels(tmp_path / "broken.png") == 0

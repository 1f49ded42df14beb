"""A metrics run as something to read: plain text for the terminal, files for people and tools.

``write_report`` writes one CSV per table, one PNG per chart and ``report.html``, a single
self-contained page (charts embedded, no script, no external resource). Every string that
came from a log line is shown as text: HTML is escaped and control characters (terminal
escape sequences among them) are written as visible ``\\xNN``.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from kos.text import printable
from report import charts
from report.spans import Grid, heat, ranked, regroup, step_for
from storage.metrics_tables import Results

__all__ = ["bucket_table", "hosts_table", "over_time", "render_html", "render_text", "write_report"]

SHOWN_BUCKETS = 48  # steps in the per-step table (the CSV has every bucket)
SHOWN_HOSTS = 10  # hosts in the busiest-hosts table and the heat map
CHART_HOSTS = 5  # hosts apart in the chart and the per-step table; the others together
LABEL = {"minute": "%Y-%m-%d %H:%M", "hour": "%Y-%m-%d %H:00", "day": "%Y-%m-%d", "week": "%Y-%m-%d (week)",
         "month": "%Y-%m"}


def _span(results: Results) -> str:
    if results.first is None:
        span = "no start events"
    elif results.live:
        span = f"{results.events} start events counted live, minutes {results.first} to {results.last} (UTC)"
    else:
        span = f"{results.events} start events from {results.first} to {results.last} (UTC)"
    return span + (f"; {results.late} more arrived after the watermark and are not counted (live_late)"
                   if results.late else "")


STORM_HEADER = ["host", "service", "process", "first start (UTC)", "last start (UTC)", "starts"]


def _period(results: Results) -> str:
    if results.period.unbounded:
        return "all events"
    return f"{results.period.start:%Y-%m-%d %H:%M:%S} to {results.period.end:%Y-%m-%d %H:%M:%S} UTC (end excluded)"


def render_text(results: Results, shown_buckets: int = SHOWN_BUCKETS) -> str:
    """The answers as plain text tables."""
    lines = [_span(results), "", "Most frequent services:"]
    lines += [f"  {rank:3d}. {starts:8d}  {printable(service)}" for rank, service, starts in results.services]
    lines += ["", "Most frequent processes/daemons:"]
    lines += [f"  {rank:3d}. {starts:8d}  {printable(process)}" for rank, process, starts in results.processes]
    grid = over_time(results)
    totals = list(grid.totals.items())
    shown = totals[-shown_buckets:]
    lines += ["", f"Starts per {grid.step} (all hosts)"
              + (f", the last {len(shown)} of {len(totals)} with starts:" if len(shown) < len(totals) else ":")]
    lines += [f"  {t:{LABEL[grid.step]}}  {n:8d}" for t, n in shown]
    busiest = ranked(results.buckets)
    if busiest:
        lines += ["", f"Busiest hosts ({len(busiest)} in all):"]
        lines += [f"  {rank:3d}. {starts:8d}  {printable(host)}"
                  for rank, (host, starts) in enumerate(busiest[:SHOWN_HOSTS], 1)]
        if len(busiest) > SHOWN_HOSTS:
            lines.append(f"       {sum(n for _, n in busiest[SHOWN_HOSTS:]):8d}  "
                         f"the other {len(busiest) - SHOWN_HOSTS} hosts")
    if results.alerts:
        lines += ["", "Restart storms:"]
        lines += [f"  {printable(host)}: {printable(service)} ({printable(process)}) started {starts} times from "
                  f"{first:%Y-%m-%d %H:%M:%S} to {last:%Y-%m-%d %H:%M:%S}"
                  for host, service, process, first, last, starts in results.alerts]
    return "\n".join(lines)


def _cell(value: object) -> str:
    return html.escape(printable(str(value)), quote=True)


def _table(caption: str, header: list[str], rows: list[list[object]], numeric_from: int = 1) -> str:
    head = "".join(f"<th>{_cell(h)}</th>" for h in header)
    body = "\n".join(
        "<tr>" + "".join(f'<td class="{"num" if i >= numeric_from else "text"}">{_cell(v)}</td>'
                         for i, v in enumerate(row)) + "</tr>"
        for row in rows)
    return (f"<table><caption>{_cell(caption)}</caption>\n<thead><tr>{head}</tr></thead>\n"
            f"<tbody>\n{body}\n</tbody></table>")


def over_time(results: Results, top: int = CHART_HOSTS) -> Grid:
    """The run's buckets regrouped at the step that suits its span (report/spans.py)."""
    totals = [t for t, h, _ in results.buckets if h == ""]
    step = step_for(min(totals), max(totals), results.bucket) if totals else results.bucket
    return regroup(results.buckets, step, top)


def bucket_table(results: Results, shown_buckets: int = SHOWN_BUCKETS, shown_hosts: int = CHART_HOSTS
                 ) -> tuple[list[str], list[list[object]]]:
    """Starts per step as a grid: the last ``shown_buckets`` steps with starts, a column for all hosts, one per
    busiest host (at most ``shown_hosts``) and one for the other hosts together."""
    grid = over_time(results, shown_hosts)
    header = [f"{grid.step} (UTC)", "all hosts", *grid.hosts] + (
        [f"{len(grid.others)} other hosts"] if grid.others else [])
    rows: list[list[object]] = []
    for start in list(grid.totals)[-shown_buckets:]:
        row: list[object] = [f"{start:{LABEL[grid.step]}}", grid.totals[start]]
        row += [grid.per_host[h].get(start, 0) for h in grid.hosts]
        if grid.others:
            row.append(grid.other(start))
        rows.append(row)
    return header, rows


def hosts_table(results: Results, shown: int = SHOWN_HOSTS) -> list[list[object]]:
    """The busiest hosts: rank, host, starts, share of all starts; the others in one row."""
    busiest = ranked(results.buckets)
    everything = sum(n for _, n in busiest) or 1
    rows: list[list[object]] = [[rank, host, starts, f"{100 * starts / everything:.1f} %"]
                                for rank, (host, starts) in enumerate(busiest[:shown], 1)]
    rest = busiest[shown:]
    if rest:
        n = sum(s for _, s in rest)
        rows.append(["", f"the other {len(rest)} hosts", n, f"{100 * n / everything:.1f} %"])
    return rows


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2em 1em; }
dt { font-weight: 600; }
figure { margin: 1.5em 0; }
img { max-width: 100%; border: 1px solid #ddd; }
table { border-collapse: collapse; margin: 1em 0 2em; }
caption { text-align: left; white-space: nowrap; font-weight: 600; padding: .3em 0; }
th, td { border: 1px solid #ccc; padding: .25em .6em; }
th { background: #eef2f7; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.text { overflow-wrap: anywhere; max-width: 40em; }
.note { color: #666; }
"""


def _storms(results: Results) -> str:
    if not results.alerts:
        return '<p class="note" id="storms">No restart storms in this period.</p>'
    rows: list[list[object]] = [[h, s, p, f"{first:%Y-%m-%d %H:%M:%S}", f"{last:%Y-%m-%d %H:%M:%S}", n]
                                for h, s, p, first, last, n in results.alerts]
    return _table("Restart storms", STORM_HEADER, rows, numeric_from=5)


def _late(results: Results) -> str:
    if not results.late:
        return ""
    return (f'\n<dt>Late</dt><dd id="late">{results.late} starts arrived after the watermark; they are not counted '
            "here (table live_late)</dd>")


def render_html(results: Results, images: dict[str, bytes], shown_buckets: int = SHOWN_BUCKETS) -> str:
    """One self-contained HTML page; ``images`` maps a chart's title to its PNG bytes."""
    b = results.bucket
    grid = over_time(results)
    step = grid.step
    header, rows = bucket_table(results, shown_buckets)
    totals = len(grid.totals)
    hosts = len(ranked(results.buckets))
    figures = "\n".join(
        f'<figure><img alt="{_cell(title)}" src="data:image/png;base64,{base64.b64encode(png).decode()}"></figure>'
        for title, png in images.items())
    if not results.events:
        figures = '<p class="note" id="no-events">No start events stored for this period: nothing to chart.</p>'
    shown_note = (f"The last {len(rows)} of {totals} {step}s with start events; every {b} of every host is in "
                  f"starts_per_{b}.csv." if len(rows) < totals else
                  f"All {totals} {step}s with start events; every {b} of every host is in starts_per_{b}.csv.")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>KOS report: {_cell(_period(results))}</title>
<style>{_STYLE}</style></head>
<body>
<h1>KOS: process starts{" (live)" if results.live else ""}</h1>
<dl>
<dt>Period</dt><dd id="period">{_cell(_period(results))}</dd>
<dt>Start events</dt><dd id="events">{results.events}</dd>{_late(results)}
<dt>First and last</dt><dd>{_cell(results.first or "-")} to {_cell(results.last or "-")} UTC</dd>
<dt>Buckets</dt><dd>{_cell(b)}s, shown per {_cell(step)} ({totals} with start events)</dd>
<dt>Hosts</dt><dd id="hosts">{hosts}</dd>
<dt>Made</dt><dd id="made">{results.made_at:%Y-%m-%d %H:%M:%S} UTC</dd>
</dl>
{figures}
{_table(f"Top {results.top} services", ["rank", "service", "starts"],
        [[r, s, n] for r, s, n in results.services], numeric_from=2)}
{_table(f"Top {results.top} processes and daemons", ["rank", "process", "starts"],
        [[r, p, n] for r, p, n in results.processes], numeric_from=2)}
{_table(f"Starts per {step} and host", header, rows)}
<p class="note">{_cell(shown_note)} Times are UTC.</p>
{_table(f"Busiest hosts ({hosts} in all)", ["rank", "host", "starts", "share"], hosts_table(results), numeric_from=2)}
{_storms(results)}
</body></html>
"""


def write_report(out: Path, results: Results) -> list[Path]:
    """CSV per table, PNG per chart and ``report.html`` into ``out``; returns the files written."""
    b = results.bucket
    pngs = {} if not results.events else {  # an empty period: no charts of nothing, the page says so
        "Most frequently started services": charts.bar_chart(
            out / "top_services.png", "Most frequently started services",
            [printable(r[1]) for r in results.services], [r[2] for r in results.services], "starts"),
        "Processes logging the most start events": charts.bar_chart(
            out / "top_processes.png", "Processes logging the most start events",
            [printable(r[1]) for r in results.processes], [r[2] for r in results.processes], "starts"),
    }
    shown = [(t, printable(h), n) for t, h, n in results.buckets]
    grid = regroup(shown, over_time(results).step, CHART_HOSTS)
    if results.events:
        pngs[f"Process starts per {grid.step}"] = charts.starts_chart(
            out / "starts_over_time.png", f"Process starts per {grid.step}", grid)
    axis, hosts, columns, counts = heat(shown, b, SHOWN_HOSTS)
    if hosts and results.events:
        pngs[f"Starts per host and {axis}"] = charts.heat_map(
            out / "starts_heat_map.png", f"When services start: starts per host and {axis}", axis, hosts, columns,
            counts)
    files = [
        charts.write_csv(out / "top_services.csv", ["rank", "service", "starts"], results.services),
        charts.write_csv(out / "top_processes.csv", ["rank", "process", "starts"], results.processes),
        charts.write_csv(out / f"starts_per_{b}.csv", [f"{b}_start_utc", "host", "starts"],
                         [(t.isoformat(), h or "(all hosts)", n) for t, h, n in results.buckets]),
        *pngs.values(),
    ]
    if results.alerts:
        files.append(charts.write_csv(out / "restart_storms.csv", STORM_HEADER,
                                      [(h, s, p, f.isoformat(), last.isoformat(), n)
                                       for h, s, p, f, last, n in results.alerts]))
    page = out / "report.html"
    page.write_text(render_html(results, {title: path.read_bytes() for title, path in pngs.items()}),
                    encoding="utf-8")
    return [*files, page]

"""Metric results as files: one CSV per table and one PNG chart per metric (matplotlib, no display)."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
# Labels come from log lines: a "$" in a service name is text, never TeX math.
matplotlib.rcParams["text.parse_math"] = False
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

# How long each metrics bucket is.
BUCKET_STEPS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


__all__ = ["bar_chart", "time_series_chart", "write_csv"]


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def bar_chart(path: Path, title: str, labels: Sequence[str], values: Sequence[int], xlabel: str) -> Path:
    """Horizontal bars, largest on top."""
    fig, ax = plt.subplots(figsize=(10, max(2.5, 0.45 * len(labels) + 1.2)))
    shown = [label if len(label) <= 60 else label[:57] + "..." for label in labels]
    ax.barh(list(reversed(shown)), list(reversed(values)), color="#3b6ea8")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for y, v in enumerate(reversed(values)):
        ax.annotate(str(v), (v, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def time_series_chart(path: Path, title: str, rows: Sequence[tuple[datetime, str, int]], bucket: str,
                      max_hosts: int = 8) -> Path:
    """Starts per bucket: the total as a line, the busiest hosts as thinner lines."""
    series: dict[str, dict[datetime, int]] = defaultdict(dict)
    for start, host, starts in rows:
        series[host][start] = starts
    fig, ax = plt.subplots(figsize=(11, 4.5))
    total = series.pop("", {})
    # Buckets without starts are absent from the data; they are drawn as zeros, not bridged.
    xs: list[datetime] = []
    if total and len(total) <= 5000:
        t, last = min(total), max(total)
        while t <= last:
            xs.append(t)
            t += BUCKET_STEPS[bucket]
    else:
        xs = sorted(total)
    if xs:
        ax.plot(xs, [total.get(x, 0) for x in xs], label="all hosts",  # type: ignore[arg-type]
                color="black", linewidth=2, marker="o", markersize=3)
    busiest = sorted(series, key=lambda h: -sum(series[h].values()))[:max_hosts]
    for host in busiest:
        ax.plot(xs, [series[host].get(x, 0) for x in xs], label=host,  # type: ignore[arg-type]
                linewidth=1, marker=".", markersize=3)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title)
    ax.set_ylabel(f"starts per {bucket}")
    ax.set_xlabel("UTC")
    ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

"""Metric results as files: one CSV per table and PNG charts (matplotlib, no display)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
# Labels come from log lines: a "$" in a service name is text, never TeX math.
matplotlib.rcParams["text.parse_math"] = False
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from report.spans import LENGTH, Grid  # noqa: E402

__all__ = ["bar_chart", "heat_map", "starts_chart", "write_csv"]


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


_COLOURS = ["#3b6ea8", "#e1812c", "#3a923a", "#c03d3e", "#9372b2", "#845b53"]
_OTHERS = "#b0b0b0"
_LABEL = {"minute": "%Y-%m-%d %H:%M", "hour": "%Y-%m-%d %H:00", "day": "%Y-%m-%d", "week": "week of %Y-%m-%d",
          "month": "%Y-%m"}


def starts_chart(path: Path, title: str, grid: Grid) -> Path:
    """Starts per step as stacked bars: the busiest hosts, then the others in grey. Where most steps of the span
    are empty, only the steps with starts are drawn, side by side and labelled (a time axis would be a flat line
    with a spike); otherwise every step of the span has its place on a time axis, empty ones empty."""
    starts = list(grid.totals)
    sparse = len(starts) < grid.steps_in_span() / 2
    fig, ax = plt.subplots(figsize=(11, 4.5))
    if sparse:
        xs: list[Any] = list(range(len(starts)))
        width: Any = 0.8
    else:
        xs = starts
        width = (LENGTH.get(grid.step, timedelta(days=30)) * 0.8)
    bottom = [0] * len(starts)
    layers = [(h, [grid.per_host[h].get(t, 0) for t in starts], _COLOURS[i % len(_COLOURS)])
              for i, h in enumerate(grid.hosts)]
    if grid.others:
        layers.append((f"{len(grid.others)} other hosts", [grid.other(t) for t in starts], _OTHERS))
    if not grid.hosts and not grid.others:  # no per-host rows: the totals alone
        layers = [("all hosts", list(grid.totals.values()), _COLOURS[0])]
    for label, values, colour in layers:
        ax.bar(xs, values, width=width, bottom=bottom, label=label, color=colour, align="center")
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    if sparse:
        ax.set_xticks(xs)
        ax.set_xticklabels([f"{t:{_LABEL[grid.step]}}" for t in starts], rotation=45, ha="right", fontsize=8)
        ax.set_xlabel(f"the {len(starts)} {grid.step}s with starts, of {grid.steps_in_span()} in the span (UTC); "
                      "the others had none")
    else:
        ax.set_xlabel("UTC")
        fig.autofmt_xdate()
    if len(starts) <= 40:
        for x, total in zip(xs, grid.totals.values(), strict=True):
            ax.annotate(str(total), (x, total), xytext=(0, 2), textcoords="offset points", ha="center", fontsize=7)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title)
    ax.set_ylabel(f"starts per {grid.step}")
    if layers:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)  # beside the bars, never over them
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def heat_map(path: Path, title: str, axis: str, rows: Sequence[str], columns: Sequence[str],
             counts: Sequence[Sequence[int]]) -> Path:
    """Counts per row (host) and column (hour of day, day of week), darker for more; each cell's count written
    in it."""
    fig, ax = plt.subplots(figsize=(11, max(2.2, 0.38 * len(rows) + 1.4)))
    image = ax.imshow(counts or [[0] * len(columns)], cmap="Blues", aspect="auto")
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels(columns, fontsize=8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([r if len(r) <= 40 else r[:37] + "..." for r in rows], fontsize=8)
    ax.set_xlabel(axis)
    ax.set_title(title)
    peak = max((max(r) for r in counts if r), default=0)
    for y, row in enumerate(counts):
        for x, value in enumerate(row):
            if value:
                ax.text(x, y, str(value), ha="center", va="center", fontsize=7,
                        color="white" if value > peak * 0.6 else "black")
    fig.colorbar(image, ax=ax, label="starts", fraction=0.03)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

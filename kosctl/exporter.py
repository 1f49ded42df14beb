"""`kos run`'s ``/metrics`` for Prometheus (``[run] metrics_port``; 0, the default, serves none).

Each scrape reads what `kos status` reads (kosctl/status.py: the run's state, the queries' status files and
checkpoints, the topics' end offsets, the shipper's checkpoints) and, from MySQL, the restart storms; nothing is
kept in memory between scrapes, so the figures are those of the files and tables, whoever wrote them. A source
that does not answer (Kafka, MySQL) leaves its series out and counts in ``kos_scrape_errors_total``.
conf/prometheus/ has a scrape config and alert rules over these series.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from kos.config import Config, seconds
from kos.errors import KosError
from kos.prometheus import Family, exposition
from kosctl.alertmanager import undelivered
from kosctl.status import status
from storage.database import Database, failing_as

__all__ = ["Exporter", "families"]

def families(entries: Sequence[Mapping[str, Any]], storms: tuple[int, int] | None, undelivered: int | None,
             errors: int, now: float) -> list[Family]:
    """The metric families of `kos status`'s ``entries``, the storms (open, raised) and the alerts not yet
    delivered to Alertmanager (None: not configured)."""
    up = Family("kos_up", "gauge", "1 if the stage runs (the shipper, or a query of the Spark application).")
    restarts = Family("kos_restarts_total", "counter", "Restarts of the stage by its supervisor.")
    age = Family("kos_last_batch_age_seconds", "gauge",
                 "Seconds since the stage's last batch (the shipper: its last checkpoint).")
    rate = Family("kos_rows_per_second", "gauge", "Input rows per second of the query's last batch.")
    lag = Family("kos_lag_records", "gauge", "Records of the query's source topic it has not processed yet.")
    behind = Family("kos_file_lag_bytes", "gauge", "Bytes of a followed file not shipped yet (past its checkpoint).")
    dead = Family("kos_dead_letters_total", "counter",
                  "Records the query sent to the dead-letter topic since it started.")
    late = Family("kos_late_starts_total", "counter",
                  "Start events the live query received behind its watermark, since it started.")
    for e in entries:
        stage = {"stage": e["stage"]}
        up.samples.append((stage, 1 if e["state"] == "running" else 0))
        restarts.samples.append((stage, e.get("restarts") or 0))
        if e.get("last_batch") is not None:
            age.samples.append((stage, round(max(0.0, now - e["last_batch"]), 3)))
        if e["stage"] == "shipper":
            behind.samples += [({"path": f["path"]}, f["bytes_behind"]) for f in e.get("files", [])
                               if f["bytes_behind"] is not None]
            continue
        if e.get("rate") is not None:
            rate.samples.append((stage, e["rate"]))
        if isinstance(e.get("lag"), int):
            lag.samples.append((stage, e["lag"]))
        totals = e.get("totals") or {}
        if e["stage"] in ("transform", "load"):
            dead.samples.append((stage, totals.get("dead_letters", 0)))
        if e["stage"] == "live":
            late.samples.append(({}, totals.get("late", 0)))
    found = [up, restarts, age, rate, lag, behind, dead, late]
    if storms is not None:
        found += [Family("kos_storms_open", "gauge", "Restart storms whose window has not passed since their last "
                                                     "start.", [({}, storms[0])]),
                  Family("kos_alerts_total", "counter", "Restart storms raised (rows of process_alerts).",
                         [({}, storms[1])])]
    if undelivered is not None:
        found.append(Family("kos_alertmanager_undelivered_alerts", "gauge",
                            "Storm updates not yet accepted by Alertmanager (retried with back-off).",
                            [({}, undelivered)]))
    found.append(Family("kos_scrape_errors_total", "counter",
                        "Scrapes that could not read a source (Kafka, MySQL): its series were left out.",
                        [({}, errors)]))
    return found


def storm_counts(db: Database, window: float, now: datetime) -> tuple[int, int]:
    """(storms open, storms raised): open is a last start within ``window`` seconds of ``now``."""
    with db.connect() as conn, failing_as(f"reading process_alerts as {db.user}"):
        cur = conn.cursor()
        cur.execute("SELECT COALESCE(SUM(last_start >= %s), 0), COUNT(*) FROM process_alerts",
                    (now.replace(tzinfo=None) - timedelta(seconds=window),))
        opened, raised = cur.fetchone()
        return int(opened), int(raised)


class Exporter:
    """What `kos run` serves on ``/metrics``: ``render`` reads the sources anew each scrape."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.db = Database.from_config(cfg, "metrics")
        self.errors = 0
        self._lock = threading.Lock()  # scrapes may come together; the error count is shared

    def render(self) -> str:
        entries = status(self.cfg)
        errors = sum(1 for e in entries if isinstance(e.get("lag"), str))
        try:
            storms: tuple[int, int] | None = storm_counts(self.db, seconds(self.cfg.alerts.storm_window),
                                                          datetime.now(UTC))
        except KosError:
            storms, errors = None, errors + 1
        pending = undelivered(self.cfg) if self.cfg.alerts.alertmanager_url else None
        with self._lock:
            self.errors += 1 if errors else 0
            count = self.errors
        return exposition(families(entries, storms, pending, count, time.time()))

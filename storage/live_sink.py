"""The live query's MySQL tables as its exactly-once sink: a batch's changes and its ledger row in one transaction.

    changes of a batch ──▶ storms onto kos-alerts (first; they may repeat, never vanish)
                       └─▶ live_starts (minute counts, replaced), live_late (late starts, once each),
                           process_alerts (one row per storm, updated while it grows), live_batches (ledger)
                           ──▶ one transaction

A batch in the ledger ``live_batches`` was committed before (the query died before Spark recorded it): it
changes nothing. The counts are absolute (the group state holds them), so writing one twice would not
double it either.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from kos import event
from storage.database import Database, KeptConnection, failing_as

__all__ = ["LEDGER", "LiveSink", "series"]

log = logging.getLogger(__name__)

LEDGER = "live_batches"
_WIDTHS = {c.name: c.width for c in event.EVENT_COLUMNS if c.width}


def series(host: str, service: str, process: str) -> bytes:
    """The key of a (host, service, process) in the live tables: their whole text hashed (the columns may hold
    it cut to fit)."""
    return hashlib.sha256("\0".join((host, service, process)).encode("utf-8", "surrogatepass")).digest()[:16]


def _fit(row: dict[str, Any]) -> tuple[str, str, str]:
    return tuple(row[c][:_WIDTHS[c]] for c in ("host", "service", "process"))  # type: ignore[return-value]


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


class LiveSink:
    """Writes the live query's micro-batches (``jobs.live.OUTPUT`` rows as Arrow) into MySQL exactly once.

    Parameters
    ----------
    db : Database
        The live account.
    send_alerts : callable
        Takes the batch's storms (dicts of ``host``, ``service``, ``process``, ``first_start``, ``last_start``,
        ``starts``, ``updated_at``) and writes them to ``kos-alerts``; called before the commit.
    """

    def __init__(self, db: Database, send_alerts: Callable[[list[dict[str, Any]]], None]) -> None:
        self.db = db
        self.send_alerts = send_alerts
        self.connection = KeptConnection(db)

    def write(self, changes: pa.Table, query: str, batch_id: int) -> dict[str, int]:
        """Write one batch's changes as the writer ``query``'s batch ``batch_id``; what was written, by kind."""
        with self.connection() as conn, failing_as(f"writing the live tables as {self.db.user}", conn):
            cur = conn.cursor()
            cur.execute(f"SELECT 1 FROM `{LEDGER}` WHERE query = %s AND batch_id = %s", (query, batch_id))
            if cur.fetchone() is not None:
                log.info("batch %d of %s was committed before: nothing to change", batch_id, query)
                return {"repeated": 1}
            rows = changes.to_pylist()
            now = datetime.now(UTC).replace(tzinfo=None)
            minutes = [r for r in rows if r["kind"] == "minute"]
            late = [r for r in rows if r["kind"] == "late"]
            storms = [r for r in rows if r["kind"] == "storm"]
            alerts = [{"host": r["host"], "service": r["service"], "process": r["process"],
                       "first_start": _naive(r["at"]), "last_start": _naive(r["until"]), "starts": r["starts"],
                       "updated_at": now} for r in storms]
            if alerts:
                self.send_alerts(alerts)
            if minutes:
                cur.executemany(
                    "INSERT INTO live_starts (series, minute, host, service, process, starts, updated_at) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE starts = VALUES(starts), "
                    "updated_at = VALUES(updated_at)",
                    [(series(r["host"], r["service"], r["process"]), _naive(r["at"]), *_fit(r), r["starts"], now)
                     for r in minutes])
            if late:
                cur.executemany(
                    "INSERT IGNORE INTO live_late (origin, event_time, host, service, process, watermark, noticed_at) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [(r["origin"], _naive(r["at"]), *_fit(r), _naive(r["watermark"]), now) for r in late])
            if alerts:
                cur.executemany(
                    "INSERT INTO process_alerts (series, host, service, process, first_start, last_start, starts, "
                    "updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE "
                    "last_start = VALUES(last_start), starts = VALUES(starts), updated_at = VALUES(updated_at)",
                    [(series(a["host"], a["service"], a["process"]), *_fit(a), a["first_start"], a["last_start"],
                      a["starts"], now) for a in alerts])
            cur.execute(f"INSERT INTO `{LEDGER}` (query, batch_id) VALUES (%s, %s)", (query, batch_id))
            conn.commit()
        if storms:
            log.warning("batch %d: %d restart storms opened or grown", batch_id, len(storms))
        return {"minutes": len(minutes), "late": len(late), "storms": len(storms)}

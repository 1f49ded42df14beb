"""`kos alerts [--since ISO] [--json]`: the restart storms the live query found (``process_alerts``), the most
recently grown first. JSON: a list of objects with host, service, process, first_start, last_start, starts and
updated_at (ISO 8601, UTC)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kos.config import Config
from kos.errors import KosError
from kos.text import error_line, printable
from storage.database import Database, failing_as
from storage.metrics_tables import parse_instant

__all__ = ["FIELDS", "line", "main", "storms"]

FIELDS = ("host", "service", "process", "first_start", "last_start", "starts", "updated_at")


def storms(db: Database, since: datetime | None) -> list[dict[str, Any]]:
    """The storms that grew at or after ``since`` (all when None)."""
    with db.connect() as conn, failing_as(f"reading process_alerts as {db.user}"):
        cur = conn.cursor()
        where, params = ("WHERE updated_at >= %s", (since.astimezone(UTC).replace(tzinfo=None),)) if since else ("", ())
        cur.execute(f"SELECT {', '.join(FIELDS)} FROM process_alerts {where} "
                    "ORDER BY updated_at DESC, host, service, first_start", params)
        return [dict(zip(FIELDS, row, strict=True)) for row in cur.fetchall()]


def line(storm: Mapping[str, Any]) -> str:
    """A storm as `kos alerts` shows it (control characters shown as text)."""
    return (f"{printable(storm['host'])}: {printable(storm['service'])} ({printable(storm['process'])}) started "
            f"{storm['starts']} times from {storm['first_start']:%Y-%m-%d %H:%M:%S} to "
            f"{storm['last_start']:%Y-%m-%d %H:%M:%S} UTC")


def main(cfg: Config, since: str | None, as_json: bool) -> int:
    try:
        start = parse_instant(since) if since else None
    except ValueError as exc:
        return error_line("kos alerts", f"--since must be an ISO 8601 instant: {exc}", 2)
    try:
        found = storms(Database.from_config(cfg, "metrics"), start)
    except KosError as exc:
        return error_line("kos alerts", str(exc))
    if as_json:
        print(json.dumps([{k: (v.replace(tzinfo=UTC).isoformat() if isinstance(v, datetime) else v)
                           for k, v in a.items()} for a in found], indent=1))
        return 0
    if not found:
        print("no restart storms" + (f" since {start:%Y-%m-%d %H:%M:%S} UTC" if start else ""))
    for a in found:
        print(f"{line(a)} (updated {a['updated_at']:%Y-%m-%d %H:%M:%S})")
    return 0

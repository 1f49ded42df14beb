"""Restart storms to Alertmanager (``[alerts] alertmanager_url``), from `kos run`.

Every second the notifier reads the storms of ``process_alerts`` that grew within the last storm window and
hour, and posts each one Alertmanager has not seen as it is now to its v2 API (``POST /api/v2/alerts``): as it
opens, each time it grows, and once more when the storm window has passed since its last start, resolved.

- labels: ``alertname=KosRestartStorm``, ``host``, ``service``, ``process``; annotations: the starts, the first
  and last start, and the `kos alerts` line;
- ``startsAt`` the storm's first start; ``endsAt`` its last start plus the storm window: the moment it is over
  unless the service starts again (a later post moves it), so Alertmanager resolves it even if kos run stops.

The table and the ``kos-alerts`` records stay the source of truth: delivery never holds the live query up. What
Alertmanager accepted is kept in ``<state_dir>/run/alertmanager.json``; a post that fails (Alertmanager away or
refusing) is retried with a back-off that grows from 1 s to 60 s, and `kos status` shows the updates not yet
delivered. A storm that had already ended when first seen (a replay of old logs) is not posted.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kos.config import Config, seconds
from kos.errors import KosError
from kos.text import printable
from kosctl.alerts import FIELDS, line
from storage.database import Database, failing_as

__all__ = ["Notifier", "alert", "due", "saved", "state_path", "undelivered"]

log = logging.getLogger(__name__)

ALERTNAME = "KosRestartStorm"
HORIZON = timedelta(hours=1)  # how long after its window a storm is still looked at (its resolution posted)
BACKOFF = (1, 2, 5, 10, 30, 60)


def state_path(cfg: Config) -> Path:
    return cfg.state_dir / "run" / "alertmanager.json"


def _iso(moment: datetime) -> str:
    return moment.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def key(storm: Mapping[str, Any]) -> str:
    """A storm's identity: the series and its first start (a later storm of the series is another alert)."""
    return json.dumps([storm["host"], storm["service"], storm["process"], _iso(storm["first_start"])])


def alert(storm: Mapping[str, Any], window: timedelta) -> dict[str, Any]:
    """The storm as an alert of Alertmanager's v2 API (its times are UTC, as the table's)."""
    return {
        "labels": {"alertname": ALERTNAME, "host": storm["host"], "service": storm["service"],
                   "process": storm["process"]},
        "annotations": {"starts": str(storm["starts"]), "first_start": _iso(storm["first_start"]),
                        "last_start": _iso(storm["last_start"]), "summary": printable(line(storm))},
        "startsAt": _iso(storm["first_start"]),
        "endsAt": _iso(storm["last_start"] + window),
    }


def due(storms: list[Mapping[str, Any]], delivered: Mapping[str, list[Any]], window: timedelta,
        now: datetime) -> dict[str, list[Any]]:
    """What Alertmanager has to be told: per storm key, its state now (starts, last start, ended) where it differs
    from what was delivered. A storm never delivered that has already ended is left out."""
    found = {}
    for storm in storms:
        ended = storm["last_start"] + window <= now.replace(tzinfo=None)
        state = [storm["starts"], _iso(storm["last_start"]), ended]
        k = key(storm)
        if delivered.get(k) != state and (k in delivered or not ended):
            found[k] = state
    return found


def saved(path: Path) -> dict[str, Any]:
    """What the notifier last wrote (its URL, updates not delivered, last error, what was delivered); {} if none."""
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def undelivered(cfg: Config) -> int:
    """Storm updates Alertmanager has not accepted yet, as the notifier last wrote them."""
    try:
        return int(saved(state_path(cfg)).get("undelivered", 0))
    except (TypeError, ValueError):
        return 0


def post(url: str, alerts: list[dict[str, Any]], timeout: float = 5) -> None:
    """POST the alerts to Alertmanager's v2 API; KosError with its answer if it does not take them."""
    request = urllib.request.Request(url.rstrip("/") + "/api/v2/alerts", data=json.dumps(alerts).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - a configured http(s) URL
            answer.read()
    except urllib.error.HTTPError as exc:
        raise KosError(f"Alertmanager at {url} refused the alerts: HTTP {exc.code} "
                       f"{exc.read()[:200].decode('utf-8', 'replace')}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise KosError(f"Alertmanager at {url} does not answer: {reason}") from None


class Notifier:
    """Posts the storms to Alertmanager in its own thread until ``stop`` is set; ``tick`` is one round."""

    def __init__(self, cfg: Config, say: Callable[[str], None],
                 send: Callable[[str, list[dict[str, Any]]], None] = post) -> None:
        self.url = cfg.alerts.alertmanager_url
        self.db = Database.from_config(cfg, "metrics")
        self.window = timedelta(seconds=seconds(cfg.alerts.storm_window))
        self.path = state_path(cfg)
        self.say, self.send = say, send
        delivered = saved(self.path).get("delivered")
        self.delivered: dict[str, list[Any]] = delivered if isinstance(delivered, dict) else {}
        self.failures = 0
        self.retry_at = 0.0
        self.pending = 0
        self.failing = False

    def _write(self, error: str = "") -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial")
        partial.write_text(json.dumps({"url": self.url, "undelivered": self.pending, "last_error": error,
                                       "delivered": self.delivered}, indent=1))
        partial.replace(self.path)

    def storms(self, now: datetime) -> list[dict[str, Any]]:
        since = now.replace(tzinfo=None) - self.window - HORIZON
        with self.db.connect() as conn, failing_as(f"reading process_alerts as {self.db.user}"):
            cur = conn.cursor()
            cur.execute(f"SELECT {', '.join(FIELDS)} FROM process_alerts WHERE updated_at >= %s OR last_start >= %s",
                        (since, since))
            return [dict(zip(FIELDS, row, strict=True)) for row in cur.fetchall()]

    def tick(self, now: float) -> None:
        """One round: read the storms, post what is due (unless backing off), keep what was accepted."""
        if now < self.retry_at:
            return
        moment = datetime.fromtimestamp(now, UTC)
        try:
            storms = {key(s): s for s in self.storms(moment)}
            todo = due(list(storms.values()), self.delivered, self.window, moment)
            self.pending = len(todo)
            if todo:
                self.send(self.url, [alert(storms[k], self.window) for k in todo])
                self.delivered.update(todo)
                self.pending = 0
        except KosError as exc:
            delay = BACKOFF[min(self.failures, len(BACKOFF) - 1)]
            self.failures, self.retry_at = self.failures + 1, now + delay
            if not self.failing:
                self.say(f"alerts not delivered yet ({exc}); retrying every {BACKOFF[0]}-{BACKOFF[-1]} s")
            self.failing = True
            self._write(str(exc))
            return
        if self.failing:
            self.say(f"alerts delivered to Alertmanager at {self.url} again")
        self.failures, self.failing = 0, False
        if todo:
            horizon = moment.replace(tzinfo=None) - self.window - HORIZON
            self.delivered = {k: v for k, v in self.delivered.items()
                              if k in storms or datetime.fromisoformat(v[1].rstrip("Z")) >= horizon}
            self._write()

    def run(self, stop: threading.Event) -> None:
        self._write()
        while not stop.wait(1.0):
            try:
                self.tick(time.time())
            except Exception:  # noqa: BLE001 - a bug here must not stop kos run; said, then tried again
                log.exception("the Alertmanager notifier failed")

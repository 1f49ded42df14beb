"""Restart storms in Debian's real Alertmanager: `kos run`'s notifier (kosctl/alertmanager.py) posting the storms
of process_alerts while Alertmanager is away at first, then up: `amtool alert query` shows exactly one alert per
storm with its labels, the grown storm's new count, and none once the storm window has passed. (`kos run` serving
Prometheus and posting to Alertmanager is tests/integration/test_run.py's.)"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta

import pytest

from kos import config as kos_config
from kosctl.alertmanager import Notifier
from kosctl.status import delivery
from tests.support.operators import Alertmanager
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration]

SERIES = "UNHEX(MD5(CONCAT_WS(0x00, %s, %s, %s)))"


def put(db, host: str, service: str, process: str, first: datetime, last: datetime, starts: int) -> None:
    """A storm as the live query writes it (storage/live_sink.py): insert, or grow by first start."""
    with db.connect() as conn:
        conn.cursor().execute(
            f"INSERT INTO process_alerts (series, host, service, process, first_start, last_start, starts, updated_at)"
            f" VALUES ({SERIES}, %s, %s, %s, %s, %s, %s, UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE "
            "last_start = VALUES(last_start), starts = VALUES(starts), updated_at = VALUES(updated_at)",
            (host, service, process, host, service, process, first, last, starts))
        conn.commit()


def test_storms_reach_alertmanager_once_each_even_when_it_comes_up_late_and_resolve(db, tmp_path):
    am = Alertmanager(tmp_path / "alertmanager")
    cfg = kos_config.load(environ={**os.environ, "KOS_STACK_STATE_DIR": str(tmp_path / "state"),
                                   "KOS_ALERTS_ALERTMANAGER_URL": am.url, "KOS_ALERTS_STORM_WINDOW": "40 seconds"})
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    put(db, "web-1", "flaky.service", "systemd", now - timedelta(seconds=20), now - timedelta(seconds=2), 5)
    put(db, "web-2", "odd\x1b[31m.service", "cron", now - timedelta(seconds=10), now - timedelta(seconds=1), 7)
    said: list[str] = []
    stop = threading.Event()
    notifier = threading.Thread(target=Notifier(cfg, said.append).run, args=(stop,), daemon=True)
    notifier.start()
    try:
        away = wait_for(lambda: (d := delivery(cfg)) and d["undelivered"] == 2 and d, 30, "the undelivered storms")
        assert away["last_error"].startswith(f"Alertmanager at {am.url} does not answer")
        assert said[0].startswith(f"alerts not delivered yet (Alertmanager at {am.url} does not answer")
        with am.start():
            alerts = wait_for(lambda: len(found := am.alerts()) == 2 and found, 90, "two alerts in Alertmanager")
            shown = sorted(((a["labels"], a["annotations"]["starts"], a["startsAt"]) for a in alerts),
                           key=lambda shown: shown[0]["host"])
            assert [labels for labels, _, _ in shown] == [
                {"alertname": "KosRestartStorm", "host": "web-1", "service": "flaky.service", "process": "systemd"},
                {"alertname": "KosRestartStorm", "host": "web-2", "service": "odd\x1b[31m.service", "process": "cron"}]
            assert [(starts, began[:19]) for _, starts, began in shown] == [
                ("5", f"{now - timedelta(seconds=20):%Y-%m-%dT%H:%M:%S}"),
                ("7", f"{now - timedelta(seconds=10):%Y-%m-%dT%H:%M:%S}")]
            assert delivery(cfg)["undelivered"] == 0 and "again" in said[-1]

            put(db, "web-1", "flaky.service", "systemd", now - timedelta(seconds=20), now + timedelta(seconds=3), 6)
            grown = wait_for(lambda: (found := am.alerts()) and {a["annotations"]["starts"] for a in found
                                                                 if a["labels"]["host"] == "web-1"} == {"6"} and found,
                             30, "the grown storm's count")
            assert len(grown) == 2  # the same alert, grown: not a second one
            wait_for(lambda: am.alerts() == [], 120, "both storms resolved once their window passed")
            state = delivery(cfg)
            assert state["delivered"] == 2 and state["undelivered"] == 0
    finally:
        stop.set()
        notifier.join(timeout=10)

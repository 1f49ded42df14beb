"""kosctl/alertmanager.py: a storm as Alertmanager's v2 alert, what is due when, and delivery that retries
without losing an update (the notifier's storms and Alertmanager stood in for by functions here; the real ones
are tests/integration/test_operators.py's)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from kos import config as kos_config
from kos.errors import KosError
from kosctl import alertmanager
from kosctl.alertmanager import Notifier, alert, due, key

WINDOW = timedelta(minutes=10)
T0 = datetime(2026, 12, 6, 10, 0, 0)


def storm(starts: int = 5, last: timedelta = timedelta(seconds=4), service: str = "flaky.service") -> dict:
    return {"host": "web-1", "service": service, "process": "systemd", "first_start": T0, "last_start": T0 + last,
            "starts": starts, "updated_at": T0 + last}


def test_a_storm_is_an_alert_with_its_labels_annotations_and_times():
    assert alert(storm(), WINDOW) == {
        "labels": {"alertname": "KosRestartStorm", "host": "web-1", "service": "flaky.service",
                   "process": "systemd"},
        "annotations": {"starts": "5", "first_start": "2026-12-06T10:00:00Z", "last_start": "2026-12-06T10:00:04Z",
                        "summary": "web-1: flaky.service (systemd) started 5 times from 2026-12-06 10:00:00 to "
                                   "2026-12-06 10:00:04 UTC"},
        "startsAt": "2026-12-06T10:00:00Z", "endsAt": "2026-12-06T10:10:04Z",
    }


def test_control_characters_in_a_service_name_are_shown_as_text():
    assert alert(storm(service="x\x1b[31m"), WINDOW)["annotations"]["summary"].startswith(
        "web-1: x\\x1b[31m (systemd)")


def at(delta: timedelta) -> datetime:
    return (T0 + delta).replace(tzinfo=UTC)


def test_due_when_it_opens_grows_and_ends_and_not_otherwise():
    opened = storm()
    k = key(opened)
    assert due([opened], {}, WINDOW, at(timedelta(seconds=5))) == {k: [5, "2026-12-06T10:00:04Z", False]}
    delivered = {k: [5, "2026-12-06T10:00:04Z", False]}
    assert due([opened], delivered, WINDOW, at(timedelta(minutes=5))) == {}
    grown = storm(6, timedelta(seconds=5))
    assert due([grown], delivered, WINDOW, at(timedelta(minutes=5))) == {k: [6, "2026-12-06T10:00:05Z", False]}
    delivered = {k: [6, "2026-12-06T10:00:05Z", False]}
    assert due([grown], delivered, WINDOW, at(timedelta(minutes=10, seconds=5))) == {
        k: [6, "2026-12-06T10:00:05Z", True]}
    assert due([grown], {k: [6, "2026-12-06T10:00:05Z", True]}, WINDOW, at(timedelta(hours=1))) == {}


def test_a_storm_that_ended_before_it_was_seen_is_not_posted():
    assert due([storm()], {}, WINDOW, at(timedelta(minutes=11))) == {}


@pytest.fixture
def notifier(tmp_path, monkeypatch):
    cfg = kos_config.load(environ={"KOS_STACK_STATE_DIR": str(tmp_path),
                                   "KOS_ALERTS_ALERTMANAGER_URL": "http://127.0.0.1:1",
                                   "KOS_MYSQL_METRICS_PASSWORD": "not used: the storms are given"})
    table = [storm()]
    sent: list[list[dict]] = []
    answers: list[Exception | None] = []

    def send(url: str, alerts: list[dict]) -> None:
        answer = answers.pop(0) if answers else None
        if answer:
            raise answer
        sent.append(alerts)

    said: list[str] = []
    n = Notifier(cfg, said.append, send)
    monkeypatch.setattr(n, "storms", lambda now: list(table))
    return n, table, sent, answers, said, cfg


def test_a_failed_post_is_retried_with_back_off_and_nothing_is_lost(notifier):
    n, table, sent, answers, said, cfg = notifier
    start = at(timedelta(seconds=5)).timestamp()
    answers += [KosError("Alertmanager at http://127.0.0.1:1 does not answer: refused")] * 2
    n.tick(start)
    assert sent == [] and alertmanager.undelivered(cfg) == 1
    assert said == ["alerts not delivered yet (Alertmanager at http://127.0.0.1:1 does not answer: refused); "
                    "retrying every 1-60 s"]
    n.tick(start + 0.5)  # backing off: not tried
    n.tick(start + 1)  # tried, fails again: 2 s now
    n.tick(start + 2.5)
    assert sent == []
    table[0] = storm(6, timedelta(seconds=5))  # it grew meanwhile
    n.tick(start + 3)
    assert [[a["annotations"]["starts"] for a in alerts] for alerts in sent] == [["6"]]
    assert alertmanager.undelivered(cfg) == 0 and said[-1] == "alerts delivered to Alertmanager at " \
                                                              "http://127.0.0.1:1 again"
    n.tick(start + 4)
    assert len(sent) == 1  # nothing new to say


def test_what_was_delivered_survives_a_restart_of_the_notifier(notifier):
    n, table, sent, answers, said, cfg = notifier
    n.tick(at(timedelta(seconds=5)).timestamp())
    assert len(sent) == 1
    again = Notifier(cfg, said.append, lambda url, alerts: sent.append(alerts))
    again.storms = lambda now: list(table)  # type: ignore[method-assign]
    again.tick(at(timedelta(seconds=6)).timestamp())
    assert len(sent) == 1
    saved = json.loads(alertmanager.state_path(cfg).read_text())
    assert saved["undelivered"] == 0 and list(saved["delivered"].values()) == [[5, "2026-12-06T10:00:04Z", False]]

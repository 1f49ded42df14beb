"""kosctl/exporter.py: `kos status`'s entries as Prometheus series, and conf/prometheus/ checked by promtool."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kos.prometheus import exposition
from kosctl.exporter import families
from tests.support.submit import PROJECT

CONF = PROJECT / "conf" / "prometheus"

ENTRIES = [
    {"stage": "shipper", "state": "running", "restarts": 1, "last_batch": 990.0, "rate": None, "lag": 30,
     "files": [{"path": "/var/log/syslog", "shipped_to": 10, "bytes_behind": 30},
               {"path": "/gone", "shipped_to": 5, "bytes_behind": None}]},
    {"stage": "transform", "state": "running", "restarts": 0, "last_batch": 995.5, "rate": 1000.0, "lag": 12,
     "totals": {"candidates": 10, "events": 9, "dead_letters": 1}},
    {"stage": "load", "state": "failed", "restarts": 2, "last_batch": None, "rate": None,
     "lag": "Kafka at 127.0.0.1:9092 does not answer", "totals": {}},
    {"stage": "live", "state": "running", "restarts": 0, "last_batch": 999.0, "rate": 80.5, "lag": 0,
     "totals": {"minutes": 3, "late": 4, "storms": 1}},
]


def test_each_stage_is_its_series_and_a_source_that_failed_is_left_out():
    text = exposition(families(ENTRIES, (2, 7), 3, 1, now=1000.0))
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    assert samples == [
        'kos_up{stage="shipper"} 1', 'kos_up{stage="transform"} 1', 'kos_up{stage="load"} 0',
        'kos_up{stage="live"} 1',
        'kos_restarts_total{stage="shipper"} 1', 'kos_restarts_total{stage="transform"} 0',
        'kos_restarts_total{stage="load"} 2', 'kos_restarts_total{stage="live"} 0',
        'kos_last_batch_age_seconds{stage="shipper"} 10', 'kos_last_batch_age_seconds{stage="transform"} 4.5',
        'kos_last_batch_age_seconds{stage="live"} 1',
        'kos_rows_per_second{stage="transform"} 1000', 'kos_rows_per_second{stage="live"} 80.5',
        'kos_lag_records{stage="transform"} 12', 'kos_lag_records{stage="live"} 0',
        'kos_file_lag_bytes{path="/var/log/syslog"} 30',
        'kos_dead_letters_total{stage="transform"} 1', 'kos_dead_letters_total{stage="load"} 0',
        "kos_late_starts_total 4", "kos_storms_open 2", "kos_alerts_total 7",
        "kos_alertmanager_undelivered_alerts 3", "kos_scrape_errors_total 1",
    ]
    assert "# TYPE kos_restarts_total counter" in text and "# TYPE kos_lag_records gauge" in text


def test_without_mysql_or_alertmanager_their_series_are_absent():
    text = exposition(families(ENTRIES, None, None, 0, now=1000.0))
    assert "kos_storms_open" not in text and "kos_alertmanager" not in text


def promtool(*args: str, cwd: Path = CONF) -> subprocess.CompletedProcess[str]:
    if shutil.which("promtool") is None:
        pytest.skip("promtool is not installed (make setup installs it)")
    return subprocess.run(["promtool", *args], cwd=cwd, capture_output=True, text=True)


def test_the_shipped_config_and_rules_pass_promtool_and_their_tests():
    for args in (("check", "config", "prometheus.yml"), ("check", "rules", "kos-rules.yml"),
                 ("test", "rules", "kos-rules-test.yml")):
        done = promtool(*args)
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_rule_tests_fail_on_a_rule_that_fires_too_soon(tmp_path):
    rules = (CONF / "kos-rules.yml").read_text()
    assert "        for: 2m\n" in rules
    (tmp_path / "kos-rules.yml").write_text(rules.replace("        for: 2m\n", "        for: 0m\n", 1))
    (tmp_path / "kos-rules-test.yml").write_text((CONF / "kos-rules-test.yml").read_text())
    done = promtool("test", "rules", "kos-rules-test.yml", cwd=tmp_path)
    assert done.returncode != 0 and "KosStageDown" in done.stdout + done.stderr


def test_the_rules_use_only_series_kos_exports():
    exported = set(re.findall(r"^# TYPE (\w+)", exposition(families(ENTRIES, (0, 0), 0, 0, now=0.0)), re.M))
    used = set(re.findall(r"\b(kos_\w+)", (CONF / "kos-rules.yml").read_text()))
    assert used and used <= exported, used - exported

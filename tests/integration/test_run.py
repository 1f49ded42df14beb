"""`kos run` on the real stack: the whole pipeline running continuously on a growing syslog (rotated by rename);
the shipper and the Spark application each killed with SIGKILL once and started again by `kos run`, MariaDB stopped
under the running queries and the load and live queries started again inside the application; afterwards every
event is one row, the live tables and the alert exact (in MySQL and on kos-alerts); `kos status` shows each stage and
query; SIGTERM stops it all with exit status 0. A query that keeps failing ends `kos run` with its own last error
line; a second `kos run` on the same state refuses."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support import operators
from tests.support.operators import Alertmanager, prometheus
from tests.support.ports import free_port
from tests.support.submit import BIN, PROJECT
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def kos_run(env: dict[str, str], *args: str, output: Path) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "kos"), "run", *args], cwd=PROJECT, env=env, stdout=open(output, "w"),  # noqa: SIM115
                            stderr=subprocess.STDOUT, start_new_session=True)


def run_state(env: dict[str, str]) -> dict:
    try:
        return json.loads((Path(env["KOS_STACK_STATE_DIR"]) / "run" / "state.json").read_text())
    except (OSError, ValueError):
        return {}



def process(env: dict[str, str], name: str) -> dict:
    return next((p for p in run_state(env).get("processes", []) if p["name"] == name), {})


def query(env: dict[str, str], name: str) -> dict:
    """What the query wrote about itself beside its checkpoint."""
    try:
        return json.loads((Path(env["KOS_SPARK_CHECKPOINT_DIR"]) / f"{name}.status.json").read_text())
    except (OSError, ValueError):
        return {}


def lines(start: datetime, count: int, first: int) -> tuple[list[str], list[tuple]]:
    """``count`` syslog lines a second apart, one in four a start event (each of its own service, on hosts a to
    c: no storm among them), and the events as (time, host, service)."""
    text, events = [], []
    for i in range(first, first + count):
        t = start + timedelta(seconds=i)
        stamp = t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if i % 4 == 0:
            host, service = "abc"[i % 3], f"Unit {i}"
            text.append(f"{stamp} host-{host} systemd[1]: Started {service}.")
            events.append((t, f"host-{host}", service))
        else:
            text.append(f"{stamp} host-a kernel: noise {i}")
    return text, events


def crash_loop(start: datetime) -> tuple[list[str], list[tuple]]:
    """Six starts of one service within two minutes on one host."""
    times = [start + timedelta(seconds=20 * k) for k in range(6)]
    return ([f"{t:%Y-%m-%dT%H:%M:%S.%fZ} host-loop systemd[1]: Started Crash Looper." for t in times],
            [(t, "host-loop", "Crash Looper") for t in times])


def append(path: Path, text: list[str]) -> None:
    with open(path, "a") as f:
        f.write("".join(line + "\n" for line in text))


def rows(db, sql: str) -> list[tuple]:
    with db.connect() as conn:
        cur = conn.cursor()
        cur.execute(sql)
        return cur.fetchall()


@pytest.fixture
def run_env(pipeline_env, tmp_path):
    return dict(pipeline_env, KOS_STACK_STATE_DIR=str(tmp_path / "state"), KOS_RUN_TRIGGER="1 second",
                KOS_RUN_REAL_TIME="5 seconds",
                KOS_LIVE_TRIGGER="2 seconds", KOS_LIVE_WATERMARK="10 minutes", KOS_SHIPPER_POLL_SECONDS="0.1",
                KOS_SPARK_MAX_OFFSETS_PER_TRIGGER="0")


def test_kos_run_survives_kill_9_and_a_database_outage_and_every_event_is_one_row(run_env, db, mariadb, tmp_path):
    """… and serves its metrics to a real Prometheus, and posts the storm to a real Alertmanager."""
    log = tmp_path / "syslog"
    # Times of the last 18 minutes, so that the crash loop's storm is open now and goes to Alertmanager.
    start = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(minutes=18)
    text, events = lines(start, 400, 0)
    append(log, text)
    metrics = free_port()
    am = Alertmanager(tmp_path / "alertmanager")
    run_env = dict(run_env, KOS_RUN_METRICS_PORT=str(metrics), KOS_ALERTS_ALERTMANAGER_URL=am.url)
    with am.start(), prometheus(tmp_path / "prometheus", f"127.0.0.1:{metrics}") as prom:
        check_the_run(run_env, db, mariadb, tmp_path, log, start, events, am, prom)


def check_the_run(run_env, db, mariadb, tmp_path, log, start, events, am, prom) -> None:  # noqa: ANN001, PLR0913
    from kos import config as kos_config
    from kos.kafka_client import python_settings, read_to_end

    proc = kos_run(run_env, "--path", str(log), output=tmp_path / "run.out")
    try:
        status = lambda: rows(db, "SELECT COUNT(*) FROM process_events")[0][0]  # noqa: E731
        wait_for(lambda: status() == len(events), 300, "the first events as rows")
        second = kos_run(run_env, "--path", str(log), output=tmp_path / "second.out")
        assert second.wait(timeout=60) == 1
        refusal = (tmp_path / "second.out").read_text().strip().splitlines()
        assert refusal == [f"kos run: another `kos run` (pid {proc.pid}) runs on the state in "
                           f"{run_env['KOS_STACK_STATE_DIR']}; stop it first (SIGTERM or Ctrl-C)"]

        more_events = list(events)
        next_line = 400
        for victim in ("shipper", "spark"):
            before = process(run_env, victim)
            os.killpg(before["pid"], signal.SIGKILL)
            text, added = lines(start, 200, next_line)
            next_line += 200
            append(log, text)
            more_events += added

            def restarted(v: str = victim, b: dict = before) -> dict:
                p = process(run_env, v)
                return p if p.get("restarts", 0) > b["restarts"] and p.get("state") == "running" else {}

            after = wait_for(restarted, 120, f"{victim} started again")
            assert after["pid"] != before["pid"]
        wait_for(lambda: status() == len(more_events), 300, "the events written while each process was down")
        # The database goes away under the running queries: the load and the live query fail, and the application
        # starts them again (with back-off) until it is back.
        mariadb.stop()
        try:
            text, added = lines(start, 200, next_line)
            next_line += 200
            append(log, text)
            more_events += added
            wait_for(lambda: all(query(run_env, q).get("restarts", 0) >= 1 for q in ("load", "live")), 120,
                     "the load and the live query failing and started again")
        finally:
            mariadb.start()
        # A rename rotation under the running shipper, then the crash loop into the new file.
        os.rename(log, log.with_name("syslog.1"))
        loop_text, loop_events = crash_loop(start + timedelta(seconds=next_line + 60))
        append(log, loop_text)
        more_events += loop_events
        wait_for(lambda: status() == len(more_events), 300, "every event as a row")
        wait_for(lambda: rows(db, "SELECT starts FROM process_alerts WHERE host = 'host-loop'") == [(6,)], 120,
                 "the crash loop's alert")

        assert rows(db, "SELECT COUNT(DISTINCT origin_source, origin_file, origin_offset) FROM process_events") == [
            (len(more_events),)]
        stored = Counter((t, h, s) for t, h, s in rows(db, "SELECT event_time, host, service FROM process_events"))
        assert stored == Counter(more_events)
        expected = Counter((t.replace(second=0, microsecond=0), h, s) for t, h, s in more_events)
        wait_for(lambda: sorted(rows(db, "SELECT minute, host, service, starts FROM live_starts")) == sorted(
            (*k, n) for k, n in expected.items()), 120, "the live counts")
        assert rows(db, "SELECT COUNT(*) FROM live_late") == [(0,)]
        assert rows(db, "SELECT host, service, first_start, last_start, starts FROM process_alerts") == [
            ("host-loop", "Crash Looper", loop_events[0][0], loop_events[-1][0], 6)]
        cfg = kos_config.load(environ=run_env)
        alerts = {r.key for r in read_to_end(python_settings(cfg), cfg.kafka.alerts_topic)}
        assert alerts == {f"host-loop:Crash Looper:{loop_events[0][0].isoformat()}".encode()}
        posted = wait_for(lambda: (found := am.alerts()) and found[0]["annotations"]["starts"] == "6" and found, 60,
                          "the storm in Alertmanager, with its six starts")
        assert [(a["labels"], a["startsAt"][:19]) for a in posted] == [
            ({"alertname": "KosRestartStorm", "host": "host-loop", "service": "Crash Looper", "process": "systemd"},
             f"{loop_events[0][0]:%Y-%m-%dT%H:%M:%S}")]
        # Prometheus scraped kos run: each stage up, the storm open and raised, nothing behind.
        def values(expression: str) -> dict[str, str]:
            return {r["metric"].get("stage", ""): r["value"][1] for r in operators.query(prom, expression)}

        wait_for(lambda: values("kos_up") == {"shipper": "1", "transform": "1", "load": "1", "live": "1"}
                 and values("kos_alerts_total") == {"": "1"}, 60, "each stage up and the alert raised, in Prometheus")
        assert values("kos_storms_open") == {"": "1"}
        assert set(values("kos_restarts_total > 0")) >= {"shipper", "load", "live"}

        def status_entries() -> dict:
            shown = subprocess.run([str(BIN / "kos"), "status", "--json"], cwd=PROJECT, env=run_env,
                                   capture_output=True, text=True, timeout=120)
            assert shown.returncode == 0, shown.stderr
            return {e["stage"]: e for e in json.loads(shown.stdout)}

        # The lag is read from each query's checkpoint: real-time mode's is written as each of its batches ends.
        def lagless() -> dict:
            e = status_entries()
            return e if {x.get("lag") for x in e.values()} == {0, None} else {}

        entries = wait_for(lagless, 60, "no lag")
        delivery = entries.pop("alertmanager")
        assert (delivery["url"], delivery["delivered"], delivery["undelivered"]) == (am.url, 1, 0)
        assert sorted(entries) == ["live", "load", "shipper", "transform"]
        assert {name: e["state"] for name, e in entries.items()} == dict.fromkeys(entries, "running")
        assert entries["shipper"]["restarts"] == 1
        assert entries["load"]["restarts"] >= 1 and entries["live"]["restarts"] >= 1
        assert entries["transform"]["restarts"] == 0  # real-time mode rode the outage out: it writes no MySQL
        assert len({entries[q]["pid"] for q in ("transform", "load", "live")}) == 1  # one application
        for job in ("transform", "load", "live"):
            assert re.fullmatch(r"http://127\.0\.0\.1:40\d\d", entries[job]["ui"] or ""), entries[job]
        output = (tmp_path / "run.out").read_text()
        assert re.search(r"kos run: Spark UI http://127\.0\.0\.1:40\d\d", output), output[-3000:]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=300) == 0, (tmp_path / "run.out").read_text()[-3000:]
    assert [p["state"] for p in run_state(run_env)["processes"]] == ["stopped", "stopped"]
    assert {query(run_env, q)["state"] for q in ("transform", "load", "live")} == {"stopped"}
    assert "kos run: stopped" in (tmp_path / "run.out").read_text()


def test_a_query_that_keeps_failing_stops_kos_run_with_its_own_last_error_line(run_env, db, tmp_path):
    # The live account cannot write its ledger: each batch of the live query fails the same way.
    from kos import config as kos_config
    from storage.database import Database

    owner = Database.from_config(kos_config.load(environ=run_env))
    with owner.connect() as conn:
        conn.cursor().execute("RENAME TABLE live_batches TO live_batches_gone")
        conn.commit()
    try:
        env = dict(run_env, KOS_RUN_MAX_RESTARTS="1")
        log = tmp_path / "syslog"
        text, _ = lines(datetime(2026, 7, 1, 8, 0, 0), 40, 0)
        append(log, text)
        proc = kos_run(env, "--path", str(log), output=tmp_path / "run.out")
        assert proc.wait(timeout=300) == 1, (tmp_path / "run.out").read_text()[-3000:]
        last = (tmp_path / "run.out").read_text().strip().splitlines()[-1]
        assert re.fullmatch(r"kos run: kos-continuous: kos-live failed 2 times within 10 minutes: writing the live "
                            r"tables as kos_live failed: .*live_batches.*", last), last
        assert all(p["state"] in ("stopped", "failed") for p in run_state(env)["processes"])
        assert not any(_alive(p.get("pid")) for p in run_state(env)["processes"])
        assert query(env, "live")["state"] == "failed"
    finally:
        with owner.connect() as conn:
            conn.cursor().execute("RENAME TABLE live_batches_gone TO live_batches")
            conn.commit()


def test_kos_run_refuses_a_cluster_without_its_topics(cfg, run_env, tmp_path):
    env = dict(run_env, KOS_KAFKA_ALERTS_TOPIC="kos-test-never-made")
    done = subprocess.run([str(BIN / "kos"), "run", "--path", str(tmp_path / "syslog")], cwd=PROJECT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"kos run: Kafka at {cfg.kafka.bootstrap_servers[0]} has no topic kos-test-never-made; create it "
        "(`kos stack start` creates the pipeline's topics on the local stack)"]
    assert not (Path(env["KOS_STACK_STATE_DIR"]) / "run" / "state.json").exists()


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def test_the_systemd_units_pass_systemd_analyze_and_run_kos_commands(tmp_path):
    if subprocess.run(["sh", "-c", "command -v systemd-analyze"], capture_output=True).returncode:
        pytest.skip("systemd-analyze is not installed")
    units = sorted((PROJECT / "conf" / "systemd").glob("*.service"))
    assert [u.name for u in units] == ["kos-live.service", "kos-load.service", "kos-run.service",
                                       "kos-shipper.service", "kos-transform.service"]
    for unit in units:
        (tmp_path / unit.name).write_text(unit.read_text().replace("/opt/kos", str(PROJECT)))
    done = subprocess.run(["systemd-analyze", "verify", *map(str, sorted(tmp_path.glob("*.service")))],
                          capture_output=True, text=True)
    # systemd 252 exits 0 on a key it does not know: any line it prints about KOS's units is a failure.
    assert done.returncode == 0 and warnings(done.stderr, tmp_path) == [], done.stderr
    # Each unit runs a command of this project, which knows the subcommand and the job it names.
    commands = {}
    for unit in sorted(tmp_path.glob("*.service")):
        argv = next(line for line in unit.read_text().splitlines() if line.startswith("ExecStart="))[10:].split()
        commands[unit.name] = argv[:3] if argv[1:2] == ["job"] else argv[:2]
        helped = subprocess.run([*argv[:2], "--help"] if argv[0].endswith("/kos") else [argv[0], "--help"],
                                capture_output=True, text=True, timeout=60)
        assert helped.returncode == 0, (unit.name, helped.stderr)
    kos = str(PROJECT / ".venv" / "bin" / "kos")
    assert commands == {"kos-live.service": [kos, "job", "live"], "kos-load.service": [kos, "job", "load"],
                        "kos-run.service": [kos, "run"], "kos-shipper.service": [kos + "-shipper", "--no-progress"],
                        "kos-transform.service": [kos, "job", "transform"]}
    # The check can fail: a unit with a directive systemd does not know.
    (tmp_path / "kos-load.service").write_text((tmp_path / "kos-load.service").read_text() + "RestartSecs=5\n")
    broken = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "kos-load.service")], capture_output=True,
                            text=True)
    assert [w for w in warnings(broken.stderr, tmp_path) if "RestartSecs" in w], broken.stderr


def warnings(stderr: str, folder: Path) -> list[str]:
    """The lines systemd-analyze printed about the units in ``folder``."""
    return [line for line in stderr.splitlines() if str(folder) in line]

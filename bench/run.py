"""`kos run` over time: the alert delay of restart storms and the memory of its processes.

    python bench/run.py [--minutes 30] [--rate 1000] [--storm-every 120]

`kos run` (its own defaults; bench/live.py: scratch topics, the database kos_bench) follows one file while
this script appends ``--rate`` syslog lines a second (RFC 3339
stamps of the moment, one in ten a start event of a service of its own: no storm among them), and every
``--storm-every`` seconds a crash loop: six starts of a new service on one host, a second apart. A storm's
alert delay is from writing its fifth start (``[alerts] storm_starts``) to its row in ``process_alerts``. The
memory of `kos run` and everything under it (shipper, the application's JVM, its Python driver and workers) is
sampled every 5 s as PSS and RSS sums (bench/live.py). Checked at the end: each crash loop gave exactly one
alert, of six starts, and no other alert; every start event is exactly one row. Results: out/bench/run.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from fixtures import ScratchTopics, bench_database
from live import KosRun, batch_seconds, quarters

from kos import config as kos_config
from kos.kafka_client import python_settings, read_to_end
from storage.database import Database

PROJECT = Path(__file__).resolve().parent.parent


def query(db: Database, sql: str) -> list[tuple]:
    with db.connect() as conn:
        cur = conn.cursor()
        cur.execute(sql)
        return cur.fetchall()


class Writer(threading.Thread):
    """Appends the lines and the crash loops; notes when each storm's fifth start was written."""

    def __init__(self, path: Path, rate: int, seconds: float, storm_every: float, storm_starts: int) -> None:
        super().__init__(daemon=True)
        self.path, self.rate, self.seconds, self.storm_every, self.storm_starts = \
            path, rate, seconds, storm_every, storm_starts
        self.events = 0
        self.storms: dict[str, float] = {}  # service -> monotonic time its storm_starts-th start was written
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._write()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            self.error = exc

    def _write(self) -> None:
        began, line, tick = time.monotonic(), 0, 0.1
        # The first storm once the jobs are surely up; a storm is six starts a second apart.
        next_storm, storm, storm_line, storm_at = began + max(self.storm_every / 2, 90), None, 0, 0.0
        with open(self.path, "a", buffering=1 << 16) as f:
            while (now := time.monotonic()) < began + self.seconds:
                stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                due = int((now - began) * self.rate) - line
                for _ in range(max(0, due)):
                    if line % 10 == 0:
                        f.write(f"{stamp} host-{line // 10 % 20} systemd[1]: Started Unit {line}.\n")
                        self.events += 1
                    else:
                        f.write(f"{stamp} host-{line % 20} kernel: noise {line}\n")
                    line += 1
                if storm is None and now >= next_storm and now < began + self.seconds - 60:
                    storm, storm_line, next_storm = f"Storm {len(self.storms)}", 0, now + self.storm_every
                if storm is not None and storm_line < 6 and (storm_line == 0 or now >= storm_at + 1):
                    f.write(f"{stamp} host-loop systemd[1]: Started {storm}.\n")
                    f.flush()
                    self.events += 1
                    storm_line, storm_at = storm_line + 1, now
                    if storm_line == self.storm_starts:
                        self.storms[storm] = time.monotonic()
                    if storm_line == 6:
                        storm = None
                f.flush()
                time.sleep(tick)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--storm-every", type=float, default=120)
    args = parser.parse_args()

    cfg = kos_config.load()
    owner, _ = bench_database(cfg)
    with tempfile.TemporaryDirectory() as scratch, ScratchTopics(cfg) as topics:
        folder = Path(scratch)
        log = folder / "syslog"
        log.touch()
        writer = Writer(log, args.rate, args.minutes * 60, args.storm_every, cfg.alerts.storm_starts)
        delays: dict[str, float] = {}
        with KosRun(cfg, topics, owner, log, folder) as run:
            writer.start()
            began = time.monotonic()
            while writer.is_alive() or len(delays) < len(writer.storms):
                run.check()
                now = time.monotonic()
                waiting = [s for s in writer.storms if s not in delays]
                if waiting:
                    found = {service for (service,) in query(owner, "SELECT service FROM process_alerts")}
                    for service in waiting:
                        if service in found:
                            delays[service] = now - writer.storms[service]
                if now - began > args.minutes * 60 + 300:
                    missing = sorted(set(writer.storms) - set(delays))
                    raise SystemExit(f"storms without an alert after 5 minutes: {missing}")
                time.sleep(0.1)
            if writer.error:
                raise writer.error
            run.wait_for_rows(writer.events, 300)
            batches = batch_seconds(run.logged())
        alerts = query(owner, "SELECT host, service, starts FROM process_alerts ORDER BY service")
        expected = sorted(("host-loop", service, 6) for service in writer.storms)
        if sorted(alerts) != expected:
            raise SystemExit(f"alerts {alerts}, expected {expected}")
        # On kos-alerts too: one alert per storm (its records share the key host:service:first start; a repeat
        # is the same record).
        keys = {r.key.decode() for r in read_to_end(python_settings(cfg), run.env["KOS_KAFKA_ALERTS_TOPIC"])}
        per_storm = Counter(key.split(":")[1] for key in keys)
        if per_storm != Counter(list(writer.storms)):  # one key per storm
            raise SystemExit(f"kos-alerts has the keys {sorted(keys)}, not one per storm of {sorted(writer.storms)}")
        rows = query(owner, "SELECT COUNT(*), COUNT(DISTINCT origin_source, origin_file, origin_offset) "
                            "FROM process_events")[0]
        if rows != (writer.events, writer.events):
            raise SystemExit(f"{rows} rows (distinct origins) for {writer.events} events")

    ordered = sorted(delays.values())
    samples = run.samples
    result = {
        "minutes": args.minutes, "rate": args.rate, "events": writer.events, "storms": len(writer.storms),
        "alert_delay_p50_s": round(statistics.median(ordered), 2), "alert_delay_max_s": round(ordered[-1], 2),
        "alert_delays_s": [round(delays[s], 2) for s in writer.storms],  # in the order the storms came
        **quarters(samples, "pss"), **quarters(samples, "rss"), "memory_samples": len(samples),
        "processes_last": samples[-1].processes,
        "pss_by_minute_mib": [round(max(s.pss for s in samples if int(s.at // 60) == minute) / 2**20)
                              for minute in sorted({int(s.at // 60) for s in samples})],
        "batch_seconds": batches,
    }
    print(f"kos run, {args.minutes:g} minutes at {args.rate:,} lines/s: {writer.events:,} events, each one row; "
          f"{len(writer.storms)} storms, each one alert; alert delay p50 {result['alert_delay_p50_s']} s, "
          f"max {result['alert_delay_max_s']} s; memory of kos run's {result['processes_last']} processes: PSS peak "
          f"{result['pss_peak_mib']} MiB, first quarter {result['pss_first_quarter_mib']}, last quarter "
          f"{result['pss_last_quarter_mib']} (RSS sum peak {result['rss_peak_mib']} MiB)")
    out = PROJECT / "out" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "run.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

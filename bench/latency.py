"""Latency benchmark: seconds from a log line to its row in MySQL, under `kos run` with its defaults.

    python bench/latency.py [--seconds 600] [--rate 1000] [--warm-up 60]

The real rsyslogd (a private instance: its own socket and file) receives ``--rate`` lines per second from
two ``logger`` processes, one line in ten a start event; `kos run` follows the file (bench/live.py: scratch
topics, the database kos_bench). Per event, from its row: ``loaded_at - event_time`` (the whole path: rsyslogd
stamps the line in microseconds as it receives it; MariaDB stamps the row as the load's LOAD DATA inserts it),
split at the raw record's Kafka timestamp into the shipper's share and the Spark application's. Events of the
first ``--warm-up`` seconds (JVM start-up) are left out. Checked: every event sent is exactly one row.
Results: out/bench/latency.json (``p50_s``, ``p99_s``, …).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

from fixtures import ScratchTopics, bench_database  # noqa: E402
from live import KosRun, batch_seconds, percentile, quarters  # noqa: E402

from kos import config as kos_config  # noqa: E402

PROBE = "Latency Probe"


def rsyslog(folder: Path) -> tuple[subprocess.Popen, Path, Path]:
    """A private rsyslogd: its socket, and its file in RSYSLOG_FileFormat (RFC 3339, microseconds)."""
    sock, log, conf = folder / "log.sock", folder / "syslog", folder / "rsyslog.conf"
    conf.write_text(f'global(workDirectory="{folder}")\n'
                    'module(load="imuxsock" SysSock.Use="off")\n'
                    f'input(type="imuxsock" Socket="{sock}" CreatePath="on" RateLimit.Interval="0")\n'
                    f'*.* action(type="omfile" file="{log}" template="RSYSLOG_FileFormat")\n')
    daemon = subprocess.Popen(["rsyslogd", "-n", "-f", str(conf), "-i", str(folder / "rsyslogd.pid")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not sock.exists():
        if time.monotonic() > deadline:
            raise SystemExit("rsyslogd did not create its socket")
        time.sleep(0.1)
    return daemon, sock, log


def send(sock: Path, rate: int, seconds: float, stop: threading.Event) -> int:
    """``rate`` lines a second through two `logger` processes for ``seconds``; one line in ten a start event.
    Returns the events sent."""
    events = subprocess.Popen(["logger", "-u", str(sock), "-t", "systemd", "--id=1"], stdin=subprocess.PIPE,
                              text=True)
    noise = subprocess.Popen(["logger", "-u", str(sock), "-t", "app", "--id=4242"], stdin=subprocess.PIPE, text=True)
    sent, tick, started = 0, 0.01, time.monotonic()
    per_tick = rate * tick
    n = 0
    while not stop.is_set() and time.monotonic() - started < seconds:
        for _ in range(int(per_tick // 10) or 1):
            events.stdin.write(f"Started {PROBE} {n}.\n")  # type: ignore[union-attr]
            n += 1
        noise.stdin.write("".join(f"noise line {n} {i}\n" for i in range(int(per_tick * 9 // 10))))  # type: ignore
        events.stdin.flush()  # type: ignore[union-attr]
        noise.stdin.flush()  # type: ignore[union-attr]
        sent += 1
        time.sleep(max(0.0, started + sent * tick - time.monotonic()))
    for proc in (events, noise):
        proc.stdin.close()  # type: ignore[union-attr]
        proc.wait()
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--warm-up", type=float, default=60)
    args = parser.parse_args()
    if shutil.which("rsyslogd") is None or shutil.which("logger") is None:
        raise SystemExit("needs rsyslogd and logger: apt-get install rsyslog bsdutils")

    cfg = kos_config.load()
    owner, _ = bench_database(cfg)
    out = PROJECT / "out" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="kos-latency-"))
    with ScratchTopics(cfg) as topics:
        daemon, sock, log = rsyslog(folder)
        log.touch()
        try:
            with KosRun(cfg, topics, owner, log, folder) as run:
                started = time.time()
                sent = send(sock, args.rate, args.seconds, threading.Event())
                run.wait_for_rows(sent, 120, "service LIKE %s", (PROBE + " %",))
        finally:
            daemon.terminate()
            daemon.wait()
        with owner.connect() as conn:
            cur = conn.cursor()
            cur.execute("SELECT UNIX_TIMESTAMP(event_time), UNIX_TIMESTAMP(raw_timestamp), UNIX_TIMESTAMP(loaded_at), "
                        "COUNT(*) OVER (PARTITION BY service) FROM process_events WHERE service LIKE %s",
                        (PROBE + " %",))
            found = [tuple(float(v) for v in row) for row in cur.fetchall()]
    batches = batch_seconds(run.logged())
    shutil.rmtree(folder, ignore_errors=True)

    if len(found) != sent or any(r[3] != 1 for r in found):
        raise SystemExit(f"{sent} events were sent and {len(found)} rows arrived within 120 s of the last")
    measured = [r for r in found if r[0] >= started + args.warm_up]
    total = [r[2] - r[0] for r in measured]
    shipper = [r[1] - r[0] for r in measured]
    spark = [r[2] - r[1] for r in measured]

    def summary(values: list[float]) -> dict[str, float]:
        return {f"p{p}": round(percentile(values, p), 3) for p in (50, 90, 99)} | {"max": round(max(values), 3)}

    line_to_row = summary(total)
    result = {"p50_s": line_to_row["p50"], "p90_s": line_to_row["p90"], "p99_s": line_to_row["p99"],
              "max_s": line_to_row["max"], "events": len(measured),
              "seconds": args.seconds, "rate": args.rate, "events_sent": sent,
              "events_loaded": len(found), "events_measured": len(measured), "total": summary(total),
              "shipper": summary(shipper), "spark": summary(spark), "batch_seconds": batches,
              "config": {"run.real_time": cfg.run.real_time, "run.trigger": cfg.run.trigger,
                         "live.trigger": cfg.live.trigger},
              **quarters(run.samples, "pss"), **quarters(run.samples, "rss")}
    print(f"{sent:,} events sent in {args.seconds:.0f} s at {args.rate:,} lines/s, each one row; {len(measured):,} "
          f"measured after {args.warm_up:.0f} s")
    for name in ("total", "shipper", "spark"):
        s = result[name]
        print(f"  {name:8} p50 {s['p50']:6.2f} s  p90 {s['p90']:6.2f} s  p99 {s['p99']:6.2f} s  max {s['max']:6.2f} s")
    for job, b in batches.items():
        print(f"  {job:16} {b['batches']} batches, p50 {b['p50']} s, p90 {b['p90']} s each")
    print(f"  kos run's processes: PSS peak {result['pss_peak_mib']} MiB (RSS sum {result['rss_peak_mib']} MiB)")
    (out / "latency.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

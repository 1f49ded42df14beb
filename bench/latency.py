"""Latency benchmark: seconds from a log line to its row in MySQL, on the live path.

    python bench/latency.py [--seconds 600] [--rate 1000] [--warm-up 60]

The real rsyslogd (a private instance: its own socket and file) receives ``--rate`` lines per second from
two ``logger`` processes, one line in ten a start event; kos-shipper follows the file; jobs/transform.py
and jobs/load.py run with ``processing-time`` triggers into the database kos_bench. Per event, from its
row: ``loaded_at - event_time`` (the whole path), split at the raw record's Kafka timestamp into the
shipper's share and the Spark jobs' share. Events of the first ``--warm-up`` seconds (JVM and Python
worker start-up) are left out. Every 5 s the resident memory of each stage's process tree is sampled.
Then Spark's real-time mode is tried on the transform's query and its answer reported.
Results: out/bench/latency.json.
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

from fixtures import ScratchTopics, bench_database, truncate  # noqa: E402
from live import LivePipeline, percentile  # noqa: E402

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


def real_time_mode(cfg: kos_config.Config, raw: str, parsed: str, dead: str) -> str:
    """What Spark answers to the transform's query with ``trigger(realTime=...)`` (bench/real_time_probe.py)."""
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run([str(BIN / "spark-submit"), "--master", "local[2]", "--packages",
                               cfg.spark.kafka_package, "bench/real_time_probe.py", raw, parsed, dead,
                               str(Path(folder) / "checkpoint")], cwd=PROJECT, capture_output=True, text=True,
                              timeout=600)
    answers = [line[len("ANSWER "):] for line in done.stdout.splitlines() if line.startswith("ANSWER ")]
    return answers[-1] if answers else f"no answer: {(done.stdout + done.stderr)[-600:]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--warm-up", type=float, default=60)
    parser.add_argument("--trigger", default="500 milliseconds", help="the jobs' processing-time interval")
    args = parser.parse_args()
    if shutil.which("rsyslogd") is None or shutil.which("logger") is None:
        raise SystemExit("needs rsyslogd and logger: apt-get install rsyslog bsdutils")

    cfg = kos_config.load()
    owner, _ = bench_database(cfg)
    truncate(owner)
    out = PROJECT / "out" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="kos-latency-"))
    with ScratchTopics(cfg) as topics:
        daemon, sock, log = rsyslog(folder)
        log.touch()
        try:
            with LivePipeline(cfg, topics, log, folder, args.trigger, "latency") as live:
                started = time.time()
                sent = send(sock, args.rate, args.seconds, threading.Event())
                live.wait_for_rows(owner, sent, 120, "service LIKE %s", (PROBE + " %",))
        finally:
            daemon.terminate()
            daemon.wait()
        with owner.connect() as conn:
            cur = conn.cursor()
            cur.execute("SELECT UNIX_TIMESTAMP(event_time), UNIX_TIMESTAMP(raw_timestamp), UNIX_TIMESTAMP(loaded_at) "
                        "FROM process_events WHERE service LIKE %s", (PROBE + " %",))
            found = [tuple(float(v) for v in row) for row in cur.fetchall()]
        answer = real_time_mode(cfg, live.topics["raw"], live.topics["parsed"], live.topics["dl"])
    batches = live.batch_seconds()
    rss = {stage: [b for _, b in samples] for stage, samples in live.rss.items()}
    shutil.rmtree(folder, ignore_errors=True)

    if len(found) != sent:
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
              "seconds": args.seconds, "rate": args.rate, "trigger": args.trigger, "events_sent": sent,
              "events_loaded": len(found), "events_measured": len(measured), "total": summary(total),
              "shipper": summary(shipper), "transform_and_load": summary(spark),
              "rss_mib": {name: {"first_quarter_max": round(max(v[: len(v) // 4 or 1]) / 2**20),
                                 "last_quarter_max": round(max(v[-(len(v) // 4 or 1):]) / 2**20),
                                 "peak": round(max(v) / 2**20)} for name, v in rss.items() if v},
              "batch_seconds": batches, "real_time_mode": answer}
    print(f"{sent:,} events sent in {args.seconds:.0f} s at {args.rate:,} lines/s, {len(found):,} loaded, "
          f"{len(measured):,} measured after {args.warm_up:.0f} s (trigger {args.trigger})")
    for name in ("total", "shipper", "transform_and_load"):
        s = result[name]
        print(f"  {name:20} p50 {s['p50']:6.2f} s  p90 {s['p90']:6.2f} s  p99 {s['p99']:6.2f} s  max {s['max']:6.2f} s")
    for name, m in result["rss_mib"].items():
        print(f"  {name:20} RSS peak {m['peak']} MiB (first quarter {m['first_quarter_max']}, last quarter "
              f"{m['last_quarter_max']})")
    for job, b in batches.items():
        if b:
            print(f"  {job:20} {b['batches']} batches, p50 {b['p50']} s, p90 {b['p90']} s each")
    print(f"  real-time mode: {answer}")
    (out / "latency.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

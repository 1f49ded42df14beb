"""`kos`: the local stack and project tooling.

    kos stack start [--only SERVICE] [--brokers 1|3]
                                       start Kafka and MariaDB (idempotent), then create missing topics;
                                       --only spark: a standalone master and worker, --only history:
                                       the Spark history server
    kos stack stop  [--only SERVICE]   stop (by default everything that runs)
    kos stack status
    kos config                                print the effective configuration (secrets masked)
    kos report [--from T] [--to T] [--bucket B] [--out DIR]
                                              the HTML report, CSV and PNG of a stored metrics run
    kos audit [PATH ...] [--time-zone Z] [--year Y]
                                              compare the events in source files with process_events;
                                              exit status 1 on any difference
    kos pipeline --once [--path FILE ...] [--year Y] [--time-zone Z] [--bucket B] [--out DIR]
                                              ship, transform, load, metrics and report, one after the other
    kos run [--path P ...] [--year Y] [--time-zone Z]
                                              the pipeline continuously (shipper, transform, load, live query),
                                              each stage supervised and restarted; Ctrl-C or SIGTERM stops it
    kos job NAME [ARGS ...]                   spark-submit jobs/NAME.py with its packages (what the systemd units run)
    kos status [--json]                       each stage: state, pid, uptime, restarts, last batch, rate, lag, UI
    kos alerts [--since ISO] [--json]         restart storms found by the live query
    kos report --live [--from T] [--to T] [--bucket B]
                                              the report from the live tables, without a metrics run
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import get_args

from kos import config as kos_config
from kos.text import error_line, log_to_stderr, printable
from kosctl.stack.kafka import KafkaStack
from kosctl.stack.mariadb import MariaDBStack
from kosctl.stack.process import StackError
from kosctl.stack.spark import SparkHistory, SparkMaster, SparkWorker

__all__ = ["cluster_config", "main", "parser"]

Service = KafkaStack | MariaDBStack | SparkMaster | SparkWorker | SparkHistory


def parser() -> argparse.ArgumentParser:
    """The `kos` command's arguments: one subcommand each."""
    parser = argparse.ArgumentParser(prog="kos", description="KOS local stack and tooling")
    sub = parser.add_subparsers(dest="command", required=True)
    stack = sub.add_parser("stack", help="start, stop or inspect the local Kafka, MariaDB and Spark")
    stack.add_argument("action", choices=["start", "stop", "status"])
    stack.add_argument("--only", choices=["kafka", "mariadb", "spark", "history"], help="act on one service only")
    stack.add_argument("--brokers", type=int, choices=[1, 3], help="Kafka as one broker or a 3-broker cluster "
                       "(default: stack.kafka_brokers)")
    sub.add_parser("config", help="print the effective configuration")
    report = sub.add_parser("report", help="write the report of a metrics run stored in MySQL")
    report.add_argument("--from", dest="start", help="period start as given to jobs/metrics.py (default: all)")
    report.add_argument("--to", dest="end", help="period end as given to jobs/metrics.py (default: all)")
    report.add_argument("--bucket", choices=get_args(kos_config.Bucket), default="minute")
    report.add_argument("--out", default="out/metrics", help="folder for report.html, CSV and PNG files")
    report.add_argument("--live", action="store_true", help="from the live tables (kos run), without a metrics run")
    report.add_argument("--top", type=int, default=10, help="with --live: how many services and processes")
    run = sub.add_parser("run", help="run the whole pipeline continuously, each stage supervised, until Ctrl-C")
    run.add_argument("--path", action="append", default=[], help="file or glob to follow (repeatable; default: "
                                                                 "shipper.paths)")
    run.add_argument("--year", type=int, help="the year of classic timestamps (default: the year rule)")
    run.add_argument("--time-zone", default="UTC", help="the zone of classic timestamps")
    job = sub.add_parser("job", help="spark-submit one of KOS's jobs with the packages it needs (systemd units)")
    job.add_argument("name", choices=["transform", "load", "live", "metrics"])
    job.add_argument("args", nargs=argparse.REMAINDER, help="the job's own arguments")
    status = sub.add_parser("status", help="each stage: state, last batch, rate, lag, Spark UI")
    status.add_argument("--json", action="store_true", help="as JSON")
    alerts = sub.add_parser("alerts", help="restart storms found by the live query")
    alerts.add_argument("--since", help="only storms that grew since this instant (ISO 8601)")
    alerts.add_argument("--json", action="store_true", help="as JSON: a list of objects")
    audit = sub.add_parser("audit", help="check that every start event in the files is one row in MySQL")
    audit.add_argument("paths", nargs="*", help="source files (default: shipper.paths)")
    audit.add_argument("--time-zone", default="UTC", help="zone of classic timestamps, as given to the transform")
    audit.add_argument("--year", type=int, help="year of classic timestamps, as given to the transform")
    pipeline = sub.add_parser("pipeline", help="run the whole pipeline once over some files")
    pipeline.add_argument("--once", action="store_true", required=True,
                          help="ship up to the end of the files, process what arrived, then stop")
    pipeline.add_argument("--path", action="append", default=[], help="file to ship (repeatable; default: "
                                                                      "shipper.paths)")
    pipeline.add_argument("--year", type=int, help="the year of classic timestamps (default: the year rule)")
    pipeline.add_argument("--time-zone", default="UTC", help="the zone of classic timestamps")
    pipeline.add_argument("--bucket", choices=get_args(kos_config.Bucket), default="hour")
    pipeline.add_argument("--out", default="out/pipeline", help="folder for report.html, CSV and PNG files")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    log_to_stderr(logging.INFO, "%(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    logging.getLogger("mysql.connector").setLevel(logging.WARNING)

    try:
        cfg = kos_config.load()
        if args.command == "config":
            print(cfg)
            return 0
        if args.command == "report":
            return _report(cfg, args.start, args.end, args.bucket, args.out, args.live, args.top)
        if args.command == "run":
            from kosctl import run as kos_run

            return kos_run.main(cfg, args.path, args.year, args.time_zone)
        if args.command == "job":
            from kosctl.commands import spark_submit

            argv = spark_submit(cfg, args.name, *args.args)
            os.execve(argv[0], argv, dict(os.environ, PYSPARK_PYTHON=sys.executable))
        if args.command == "status":
            from kosctl import status as kos_status

            return kos_status.main(cfg, args.json)
        if args.command == "alerts":
            from kosctl import alerts as kos_alerts

            return kos_alerts.main(cfg, args.since, args.json)
        if args.command == "audit":
            return _audit(cfg, args.paths, args.time_zone, args.year)
        if args.command == "pipeline":
            from kosctl import pipeline as kos_pipeline

            return kos_pipeline.main(cfg, args.path, args.year, args.time_zone, args.bucket, args.out)
        if args.brokers:
            cfg = kos_config.override(cfg, "stack", {"kafka_brokers": (args.brokers, "--brokers")})
        kafka = KafkaStack(cfg)
        # Stopping and status cover the other shape of the local Kafka too, if it was ever started.
        other = KafkaStack(cfg, 3 if kafka.brokers == 1 else 1)
        kafkas: list[Service] = [kafka]
        if args.action != "start" and other.home.exists():
            kafkas.append(other)
        services: dict[str, list[Service]] = {
            "kafka": kafkas, "mariadb": [MariaDBStack(cfg)],
            "spark": [SparkMaster(cfg), SparkWorker(cfg)], "history": [SparkHistory(cfg)],
        }
        if args.only:
            chosen = services[args.only]
        elif args.action == "start":
            chosen = services["kafka"] + services["mariadb"]
        else:
            chosen = [service for group in services.values() for service in group]
        if args.action == "start":
            for service in chosen:
                service.start()
            if args.only in (None, "kafka"):
                from kosctl.stack.topics import ensure_topics

                ensure_topics(cluster_config(cfg, kafka))
        elif args.action == "stop":
            for service in reversed(chosen):
                service.stop()
        for service in chosen:
            print(service.status())
        return 0
    except (StackError, kos_config.ConfigError) as exc:
        return error_line("kos", str(exc))


def cluster_config(cfg: kos_config.Config, kafka: KafkaStack) -> kos_config.Config:
    """``cfg`` pointed at the local cluster's brokers, topics replicated as the cluster allows."""
    if kafka.brokers == 1:
        return cfg
    return kos_config.override(cfg, "kafka", {"bootstrap_servers": (tuple(kafka.bootstrap_servers), "the cluster's"),
                                              "replication_factor": (min(kafka.brokers, 3), "the cluster's")})


def _report(cfg: kos_config.Config, start: str | None, end: str | None, bucket: str, out: str, live: bool = False,
            top: int = 10) -> int:
    from datetime import UTC, datetime

    from report.render import render_text, write_report
    from storage.database import Database, DatabaseError
    from storage.metrics_tables import UNBOUNDED_FROM, UNBOUNDED_TO, Period, fetch, fetch_live, parse_instant

    try:
        period = Period(parse_instant(start) if start else UNBOUNDED_FROM, parse_instant(end) if end else UNBOUNDED_TO)
    except ValueError as exc:
        return error_line("kos report", f"--from/--to must be ISO 8601 instants: {exc}", 2)
    try:
        db = Database.from_config(cfg, "metrics")
        results = fetch_live(db, period, bucket, top, datetime.now(UTC)) if live else fetch(db, period, bucket)
    except DatabaseError as exc:
        return error_line("kos report", str(exc))
    if live:
        print(render_text(results) + "\n")
    for path in write_report(cfg.path(out), results):
        print(path)
    return 0


def _audit(cfg: kos_config.Config, paths: list[str], time_zone: str, year: int | None) -> int:
    import socket

    from kafka.errors import KafkaError

    from jobs.session import spark_session
    from kosctl.audit import audit_files, dead_letter_origins
    from shipper.checkpoint import CheckpointStore
    from shipper.ship import expand
    from storage.database import Database, DatabaseError

    sc = cfg.shipper
    watched = {f for pattern in sc.paths for f in expand(pattern)[0] if os.path.lexists(f)}
    rotated = {r.format(path=f) for f in watched for r in sc.rotated}
    files = paths or sorted(watched | {f for f in rotated if os.path.isfile(f)})
    unreadable = [p for p in files if not os.path.isfile(p) or not os.access(p, os.R_OK)]
    if not files or unreadable:
        return error_line("kos audit", f"{', '.join(unreadable) or 'no files'}: not readable files", 2)
    try:
        dead_letters = dead_letter_origins(cfg)
    except KafkaError as exc:
        print(f"kos audit: cannot read {cfg.kafka.dead_letter_topic} from Kafka at "
              f"{', '.join(cfg.kafka.bootstrap_servers)}: {printable(str(exc))}", file=sys.stderr)
        return 2
    spark = spark_session("kos-audit", cfg)
    spark.sparkContext.setLogLevel("ERROR")
    try:
        results = audit_files(spark, Database.from_config(cfg, "metrics"), files, sc.source_id or socket.gethostname(),
                              CheckpointStore(cfg.path(sc.checkpoint_dir)), sc.fingerprint_bytes, sc.max_line_bytes,
                              dead_letters, time_zone, year)
    except DatabaseError as exc:
        return error_line("kos audit", str(exc), 2)
    finally:
        spark.stop()
    for result in results:
        print(("OK      " if result.ok else "DIFFERS ") + printable(result.line()))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

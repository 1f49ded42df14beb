"""`kos-shipper`: tail syslog files into the Kafka topic ``kos-raw-os-log``.

    kos-shipper --once                       ship what is there, then exit (what Airflow runs)
    kos-shipper                              follow the files until SIGTERM / Ctrl-C
    kos-shipper --path /var/log/syslog --path '/var/log/*.log' --from end

Every option defaults to conf/kos.toml ([shipper], [kafka]) and its KOS_* overrides, and is checked
by the same rules. A path that exists is that file, whatever characters it holds; a path that does not
exist and holds glob characters is a pattern.

Exit status: 0 when everything was shipped; 1 when something could not be (a setting, Kafka, a path
that matches no file with --once, a file skipped), said in one line each on stderr; 2 for usage errors.
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
import threading
import time

from kos import config as kos_config
from kos.errors import KosError
from kos.kafka_client import python_settings
from kos.summary import write_summary
from kos.text import error_line, log_to_stderr, printable, show_path
from shipper.checkpoint import CheckpointStore
from shipper.publisher import KafkaPublisher, ProducerSettings, PublishError
from shipper.ship import ShipOptions, Shipper
from shipper.tail import TailOptions

__all__ = ["build_options", "main", "producer_settings", "with_options"]

log = logging.getLogger("shipper")


def build_options(cfg: kos_config.Config) -> ShipOptions:
    sc = cfg.shipper
    return ShipOptions(
        paths=sc.paths,
        rotated=sc.rotated,
        source_id=sc.source_id or socket.gethostname(),
        start_from=sc.start_from,
        round_bytes=sc.round_bytes,
        poll_seconds=sc.poll_seconds,
        tail=TailOptions(
            fingerprint_bytes=sc.fingerprint_bytes,
            lines_per_record=sc.lines_per_record,
            max_line_bytes=sc.max_line_bytes,
        ),
        give_up_seconds=sc.delivery_timeout_ms / 1000,
    )


def producer_settings(cfg: kos_config.Config) -> ProducerSettings:
    sc = cfg.shipper
    security = python_settings(cfg)
    return ProducerSettings(
        bootstrap_servers=security.pop("bootstrap_servers"),
        topic=cfg.kafka.raw_topic,
        security=security,
        compression=sc.compression,
        linger_ms=sc.linger_ms,
        batch_size=sc.batch_size,
        max_request_size=max(sc.batch_size, sc.max_line_bytes + 64 * 1024),
        delivery_timeout_ms=sc.delivery_timeout_ms,
        request_timeout_ms=sc.request_timeout_ms,
    )


def with_options(cfg: kos_config.Config, args: argparse.Namespace) -> kos_config.Config:
    """The config with the command line's values in place, checked by the same rules as the file's."""
    cfg = kos_config.override(cfg, "shipper", {
        "paths": (tuple(args.path) if args.path else None, "--path"),
        "start_from": (args.start_from, "--from"),
        "lines_per_record": (args.lines_per_record, "--lines-per-record"),
        "checkpoint_dir": (args.checkpoint_dir, "--checkpoint-dir"),
        "metrics_port": (args.metrics_port, "--metrics-port"),
    })
    return kos_config.override(cfg, "kafka", {"raw_topic": (args.topic, "--topic")})


class Progress:
    """A one-line progress bar on a terminal: bytes done of the backlog, lines/s."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.total: int | None = None
        self.last = 0.0

    def __call__(self, shipper: Shipper) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.2:
            return
        self.last = now
        totals = shipper.totals()
        lag = sum(t.lag_bytes() for t in shipper.tails.values())
        if self.total is None:
            self.total = totals["bytes"] + lag
        total = max(self.total, totals["bytes"] + lag, 1)
        done = totals["bytes"]
        width = 30
        filled = int(width * done / total)
        rate = totals["lines"] / max(shipper.summary.seconds(), 1e-6)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done / 1e6:8.1f}/{total / 1e6:.1f} MB "
                         f"{rate:10,.0f} lines/s")
        sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled and self.total is not None:
            sys.stderr.write("\n")


def connect(publisher: KafkaPublisher, once: bool, stop: threading.Event, delivery_timeout_s: float) -> None:
    """Reach Kafka and the topic. Shipping up to the end, a missing broker is an error at once and a missing
    topic after the delivery timeout; following, the shipper waits for both, saying what it waits for."""
    while not stop.is_set():
        try:
            publisher.connect(topic_wait_s=delivery_timeout_s if once else 0.0)
            return
        except PublishError as exc:
            if once:
                raise
            log.warning("%s; trying again in 5 s", exc)
            stop.wait(5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kos-shipper", description="Tail syslog files into Kafka.")
    parser.add_argument("--once", action="store_true", help="ship up to the end of each file, then exit")
    parser.add_argument("--path", action="append", help="file or glob to ship (repeatable; default from config)")
    parser.add_argument("--from", dest="start_from", choices=["beginning", "end"],
                        help="where to start on a file never shipped before")
    parser.add_argument("--topic", help="topic to produce to (default: kafka.raw_topic)")
    parser.add_argument("--lines-per-record", type=int, help="lines joined into one Kafka record")
    parser.add_argument("--checkpoint-dir", help="where checkpoints live (default: shipper.checkpoint_dir)")
    parser.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port (0: off)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar even on a terminal")
    parser.add_argument("--summary", metavar="FILE", help="also write the summary as JSON into FILE")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)

    log_to_stderr(logging.DEBUG if args.verbose else logging.INFO)
    # kafka-python logs every failed reconnect; the shipper says once, in one line, what it waits for.
    logging.getLogger("kafka").setLevel(logging.DEBUG if args.verbose else logging.CRITICAL)

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("%s received: finishing the batch in flight, then stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    shipper: Shipper | None = None
    publisher: KafkaPublisher | None = None
    server = None
    try:
        cfg = with_options(kos_config.load(), args)
        store = CheckpointStore(cfg.path(cfg.shipper.checkpoint_dir))
        store.prepare()
        publisher = KafkaPublisher(producer_settings(cfg))
        progress = Progress(enabled=args.once and sys.stderr.isatty() and not args.no_progress)
        shipper = Shipper(build_options(cfg), publisher, store,
                          on_progress=progress)  # opens the files: path errors first
        if cfg.shipper.metrics_port:
            from shipper.monitor import serve

            server = serve(shipper, cfg.shipper.metrics_host, cfg.shipper.metrics_port)
            log.info("metrics on http://%s:%d/metrics", cfg.shipper.metrics_host, cfg.shipper.metrics_port)
        if not args.once:
            shipper.announce_unmatched()
        if shipper.tails or not args.once:  # with --once and no file to ship, Kafka need not be reached
            connect(publisher, args.once, stop, cfg.shipper.delivery_timeout_ms / 1000)
            shipper.run(follow=not args.once, stop=stop)
        progress.finish()
    except KosError as exc:
        return error_line("kos-shipper", str(exc))
    except Exception as exc:  # a bug: still one line, the traceback with -v
        log.debug("unexpected error", exc_info=True)
        print(f"kos-shipper: unexpected {type(exc).__name__}: {printable(str(exc))} (run with -v for the traceback; "
              "please report it)", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.shutdown()
        if publisher is not None:
            publisher.close()
        if shipper is not None:
            shipper.close()
    t = shipper.totals()
    line = (f"{t['lines']} lines, {t['bytes']} bytes, {t['records']} records in {shipper.summary.seconds():.2f} s; "
            f"{t['rotations']} rotations, {t['truncations']} truncations, {t['cut_lines']} cut lines, "
            f"{shipper.summary.retries} retries")
    write_summary(args.summary, {"stage": "ship", "line": line, **t, "seconds": shipper.summary.seconds(),
                                 "retries": shipper.summary.retries})
    print(f"kos-shipper: {line}")
    if not args.once:
        return 0
    for pattern, why in shipper.unmatched.items():
        print(f"kos-shipper: nothing shipped from {show_path(pattern)}: {why}", file=sys.stderr)
    for why in shipper.problems.values():
        print(f"kos-shipper: {printable(why)} (skipped)", file=sys.stderr)
    return 1 if shipper.unmatched or shipper.problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""`kos-shipper`: tail syslog files into the Kafka topic ``kos-raw-os-log``.

    kos-shipper --once                       ship what is there, then exit (what Airflow runs)
    kos-shipper                              follow the files until SIGTERM / Ctrl-C
    kos-shipper --path /var/log/syslog --path '/var/log/*.log' --from end

Every option defaults to conf/kos.toml ([shipper], [kafka]) and its KOS_* overrides.
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
from kos.kafka_client import python_settings
from kos.text import printable
from shipper.checkpoint import CheckpointStore
from shipper.publisher import KafkaPublisher, ProducerSettings, PublishError
from shipper.ship import ShipOptions, Shipper
from shipper.tail import ShipperError, TailOptions

log = logging.getLogger("shipper")


def build_options(cfg: kos_config.Config, args: argparse.Namespace) -> ShipOptions:
    sc = cfg.shipper
    return ShipOptions(
        paths=tuple(args.path) if args.path else sc.paths,
        rotated=sc.rotated,
        source_id=sc.source_id or socket.gethostname(),
        start_from=args.start_from or sc.start_from,
        round_bytes=sc.round_bytes,
        poll_seconds=sc.poll_seconds,
        tail=TailOptions(
            fingerprint_bytes=sc.fingerprint_bytes,
            lines_per_record=args.lines_per_record or sc.lines_per_record,
            max_line_bytes=sc.max_line_bytes,
        ),
    )


def producer_settings(cfg: kos_config.Config, topic: str | None) -> ProducerSettings:
    sc = cfg.shipper
    security = python_settings(cfg)
    return ProducerSettings(
        bootstrap_servers=security.pop("bootstrap_servers"),
        topic=topic or cfg.kafka.raw_topic,
        security=security,
        compression=sc.compression,
        linger_ms=sc.linger_ms,
        batch_size=sc.batch_size,
        max_request_size=max(sc.batch_size, sc.max_line_bytes + 64 * 1024),
        delivery_timeout_ms=sc.delivery_timeout_ms,
        request_timeout_ms=sc.request_timeout_ms,
    )


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


def connect(publisher: KafkaPublisher, once: bool, stop: threading.Event) -> None:
    """Reach Kafka: with --once a missing broker is an error; following, the shipper waits for it."""
    while not stop.is_set():
        try:
            publisher.connect()
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
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
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
    try:
        cfg = kos_config.load()
        options = build_options(cfg, args)
        store = CheckpointStore(cfg.path(args.checkpoint_dir or cfg.shipper.checkpoint_dir))
        publisher = KafkaPublisher(producer_settings(cfg, args.topic))
        progress = Progress(enabled=args.once and sys.stderr.isatty() and not args.no_progress)
        shipper = Shipper(options, publisher, store, on_progress=progress)  # opens the files: path errors first
        connect(publisher, once=args.once, stop=stop)
        metrics_port = cfg.shipper.metrics_port if args.metrics_port is None else args.metrics_port
        server = None
        if metrics_port:
            from shipper.monitor import serve

            server = serve(shipper, cfg.shipper.metrics_host, metrics_port)
            log.info("metrics on http://%s:%d/metrics", cfg.shipper.metrics_host, metrics_port)
        shipper.run(follow=not args.once, stop=stop)
        progress.finish()
        if server is not None:
            server.shutdown()
    except (ShipperError, PublishError, kos_config.ConfigError) as exc:
        print(f"kos-shipper: {printable(str(exc))}", file=sys.stderr)
        return 1
    finally:
        if publisher is not None:
            publisher.close()
        if shipper is not None:
            shipper.close()
    t = shipper.totals()
    print(f"kos-shipper: {t['lines']} lines, {t['bytes']} bytes, {t['records']} records in "
          f"{shipper.summary.seconds():.2f} s; {t['rotations']} rotations, {t['truncations']} truncations, "
          f"{t['cut_lines']} cut lines, {shipper.summary.retries} retries")
    return 0


if __name__ == "__main__":
    sys.exit(main())

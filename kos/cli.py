"""`kos`: the local stack and project tooling.

    kos stack start [--only kafka|mariadb]   start (idempotent), then create missing topics
    kos stack stop  [--only kafka|mariadb]
    kos stack status
    kos config                                print the effective configuration (secrets masked)
"""

from __future__ import annotations

import argparse
import logging
import sys

from kos import config as kos_config
from kos.stack.kafka import KafkaStack
from kos.stack.mariadb import MariaDBStack
from kos.stack.process import StackError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kos", description="KOS local stack and tooling")
    sub = parser.add_subparsers(dest="command", required=True)
    stack = sub.add_parser("stack", help="start, stop or inspect the local Kafka and MariaDB")
    stack.add_argument("action", choices=["start", "stop", "status"])
    stack.add_argument("--only", choices=["kafka", "mariadb"], help="act on one service only")
    sub.add_parser("config", help="print the effective configuration")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)

    try:
        cfg = kos_config.load()
        if args.command == "config":
            print(cfg)
            return 0
        services: dict[str, KafkaStack | MariaDBStack] = {"kafka": KafkaStack(cfg), "mariadb": MariaDBStack(cfg)}
        chosen = [services[args.only]] if args.only else list(services.values())
        if args.action == "start":
            for service in chosen:
                service.start()
            if args.only in (None, "kafka"):
                from kos.stack.topics import ensure_topics

                ensure_topics(cfg.kafka)
        elif args.action == "stop":
            for service in reversed(chosen):
                service.stop()
        for service in chosen:
            print(service.status())
        return 0
    except (StackError, kos_config.ConfigError) as exc:
        print(f"kos: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

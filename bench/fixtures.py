"""What the benchmarks run in: fresh Kafka topics, deleted when the run ends (or fails), the database kos_bench
beside the project's own (made, with the accounts' rights on it, by ``bench_database``), and the stack's servers
(``servers``: their pids, to watch their CPU)."""

from __future__ import annotations

import dataclasses
import uuid
from types import TracebackType

from kos.config import Config
from kosctl.stack.kafka import KafkaStack
from kosctl.stack.mariadb import MariaDBStack, apply_schema, rights
from kosctl.stack.process import running_pid
from kosctl.stack.topics import delete_topics, ensure_topics
from storage.database import TABLES, Database

BENCH_DB = "kos_bench"


class ScratchTopics:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.names: list[str] = []

    def new(self, kind: str) -> str:
        name = f"kos-bench-{kind}-{uuid.uuid4().hex[:8]}"
        ensure_topics(self.cfg, [name])
        self.names.append(name)
        return name

    def drop(self, names: list[str]) -> None:
        """Delete some of the topics now (a benchmark's runs would otherwise fill the broker's disk)."""
        delete_topics(self.cfg, names)
        self.names = [n for n in self.names if n not in names]

    def __enter__(self) -> ScratchTopics:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        delete_topics(self.cfg, self.names)


def bench_database(cfg: Config) -> tuple[Database, Database]:
    """The owner and load accounts on kos_bench (its schema made); every account has the rights it has on the
    project's database."""
    stack = MariaDBStack(cfg)

    def grant(roles: tuple[str, ...]) -> None:
        stack.root_sql("\n".join(f"GRANT {right} TO '{getattr(cfg.mysql, role).user}'@'{host}';"
                                  for role in roles for right in rights(BENCH_DB)[role]
                                  for host in ("127.0.0.1", "localhost")))

    stack.root_sql(f"CREATE DATABASE IF NOT EXISTS {BENCH_DB} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;")
    grant(("owner",))
    owner = dataclasses.replace(Database.from_config(cfg), database=BENCH_DB)
    apply_schema(owner)  # before the other grants: they name its tables
    grant(("load", "metrics", "live"))
    loader = dataclasses.replace(Database.from_config(cfg, "load"), database=BENCH_DB)
    return owner, loader


def truncate(db: Database) -> None:
    """Empty every table of the schema."""
    with db.connect() as conn:
        for table in TABLES:
            conn.cursor().execute(f"TRUNCATE TABLE {table}")
        conn.commit()


def servers(cfg: Config) -> dict[str, int]:
    """The stack's servers a job works with, by name (``mariadbd``, ``kafka broker``): their pids, for those
    running."""
    found = {"mariadbd": running_pid(MariaDBStack(cfg).pid_file), "kafka broker": running_pid(KafkaStack(cfg).pid_file)}
    return {name: pid for name, pid in found.items() if pid}

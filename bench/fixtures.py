"""What the benchmarks run in: fresh Kafka topics, deleted when the run ends (or fails), and the database
kos_bench beside the project's own (made, with the accounts' rights on it, by ``bench_database``)."""

from __future__ import annotations

import dataclasses
import uuid
from types import TracebackType

from kos.config import Config
from kosctl.stack.mariadb import MariaDBStack, apply_schema
from kosctl.stack.topics import delete_topics, ensure_topics
from storage.database import Database

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
    """The owner and load accounts on kos_bench (its schema made); the owner, load and metrics accounts have the
    rights they have on the project's database."""
    MariaDBStack(cfg).root_sql("\n".join(
        [f"CREATE DATABASE IF NOT EXISTS {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;"
         for name in (BENCH_DB,)]
        + [f"GRANT {rights} ON {name}.* TO '{user}'@'{host}';"
           for user, rights, name in ((cfg.mysql.owner.user, "ALL PRIVILEGES", BENCH_DB),
                                      (cfg.mysql.load.user, "SELECT, INSERT", BENCH_DB),
                                      (cfg.mysql.metrics.user, "SELECT, INSERT, DELETE", BENCH_DB))
           for host in ("127.0.0.1", "localhost")]))
    owner = dataclasses.replace(Database.from_config(cfg), database=BENCH_DB)
    loader = dataclasses.replace(Database.from_config(cfg, "load"), database=BENCH_DB)
    apply_schema(owner)
    return owner, loader


def truncate(db: Database) -> None:
    """Empty process_events and the load ledger."""
    with db.connect() as conn:
        conn.cursor().execute("TRUNCATE TABLE process_events")
        conn.cursor().execute("TRUNCATE TABLE load_ledger")
        conn.commit()

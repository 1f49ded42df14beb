"""MySQL / MariaDB at the edges of the jobs, without Spark: connection settings, the schema, and the staged merge
that makes batch writes idempotent.

Writes go in two steps: Spark's executors write the batch in parallel through JDBC
into a staging table (in its own database), then one transaction inserts the staged
rows whose key is not in the target yet. Replaying a batch therefore adds nothing,
and the writing account needs no right to change or delete a row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mysql.connector
from mysql.connector import errors as mysql_errors

from kos.config import Config
from kos.errors import KosError

__all__ = ["Database", "DatabaseError", "SCHEMA", "create_stage", "failing_as", "merge_staged", "stage_name"]

# The tables the jobs write; `kos stack start` applies it (kosctl/stack/mariadb.py).
SCHEMA = Path(__file__).with_name("schema.sql")


class DatabaseError(KosError):
    """MySQL could not be reached or refused a statement; the message says which and what to do."""


@dataclass(frozen=True)
class Database:
    host: str
    port: int
    database: str
    user: str
    password: str = field(repr=False)
    stage_database: str = "kos_stage"
    # TLS, verifying the server: the CA as PEM (Python) and as a PKCS#12 trust store (JDBC).
    ssl_ca: str = ""
    truststore: str = ""
    truststore_password: str = field(default="", repr=False)

    @classmethod
    def from_config(cls, cfg: Config, role: str = "owner") -> Database:
        """The database as one of the config's accounts: ``owner``, ``load`` or ``metrics``."""
        m = cfg.mysql
        user, password = cfg.mysql_account(role)
        if not m.tls:
            return cls(m.host, m.port, m.database, user, password, m.stage_database)
        truststore_password = cfg.secret(m.ssl_truststore_password, m.ssl_truststore_password_file,
                                         "KOS_MYSQL_SSL_TRUSTSTORE_PASSWORD")
        return cls(m.host, m.port, m.database, user, password, m.stage_database, str(cfg.path(m.ssl_ca)),
                   str(cfg.path(m.ssl_truststore)), truststore_password)

    @property
    def jdbc_url(self) -> str:
        tls = "sslMode=VERIFY_IDENTITY" if self.ssl_ca else "useSSL=false&allowPublicKeyRetrieval=true"
        return (f"jdbc:mysql://{self.host}:{self.port}/{self.database}"
                "?rewriteBatchedStatements=true&connectionTimeZone=UTC&forceConnectionTimeZoneToSession=true"
                f"&characterEncoding=UTF-8&{tls}")

    @property
    def jdbc_properties(self) -> dict[str, str]:
        """Connection properties, secrets among them: Spark redacts keys matching "password"."""
        props = {"user": self.user, "password": self.password, "driver": "com.mysql.cj.jdbc.Driver"}
        if self.ssl_ca:
            props.update(trustCertificateKeyStoreUrl=Path(self.truststore).as_uri(),
                         trustCertificateKeyStoreType="PKCS12",
                         trustCertificateKeyStorePassword=self.truststore_password)
        return props

    @contextmanager
    def connect(self, local_files: Path | None = None) -> Iterator[Any]:
        """A connection in UTC with autocommit off; closed on exit. ``local_files``: the one folder from which
        ``LOAD DATA LOCAL INFILE`` may send files."""
        try:
            tls = {"ssl_ca": self.ssl_ca, "ssl_verify_cert": True, "ssl_verify_identity": True} if self.ssl_ca else {}
            local = {"allow_local_infile_in_path": str(local_files)} if local_files else {}
            conn = mysql.connector.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                                           database=self.database, time_zone="+00:00", autocommit=False,
                                           connection_timeout=10, **tls, **local)
        except mysql_errors.Error as exc:
            raise DatabaseError(f"cannot connect to MySQL at {self.host}:{self.port} as {self.user}: {exc.msg}; "
                                "start it with `kos stack start` or check the KOS_MYSQL_* settings") from None
        try:
            yield conn
        finally:
            conn.close()


@contextmanager
def failing_as(doing: str, conn: Any = None) -> Iterator[None]:
    """Inside, a MySQL error becomes a DatabaseError saying ``<doing> failed: <the server's words>``, after rolling
    back ``conn`` when one is given."""
    try:
        yield
    except mysql_errors.Error as exc:
        if conn is not None:
            conn.rollback()
        raise DatabaseError(f"{doing} failed: {exc.msg}") from None


def stage_name(prefix: str, batch_id: int) -> str:
    """A staging table name private to one query's batch (safe as an identifier, unquoted too)."""
    clean = re.sub(r"[^A-Za-z0-9_]", "_", prefix)[:40]
    return f"stage_{clean}_{batch_id}"


def staged(db: Database, stage: str) -> str:
    """The staging table's qualified name."""
    return f"`{db.stage_database}`.`{stage}`"


def create_stage(db: Database, stage: str, select: str, alter: str = "") -> None:
    """An empty, key-less staging table shaped by ``select`` (a SELECT over the target ... WHERE FALSE),
    then changed by ``alter`` (the part of an ALTER TABLE after the table name).

    Dropped first: a stage left by a crashed attempt of the same batch is never merged twice.
    """
    with db.connect() as conn, failing_as(f"creating the staging table {db.stage_database}.{stage} as {db.user}"):
        cur = conn.cursor()
        cur.execute(f"DROP TABLE IF EXISTS {staged(db, stage)}")
        cur.execute(f"CREATE TABLE {staged(db, stage)} ENGINE=InnoDB AS {select}")
        if alter:
            cur.execute(f"ALTER TABLE {staged(db, stage)} {alter}")
        conn.commit()


def merge_staged(db: Database, stage: str, target: str, columns: Sequence[str], values: Sequence[str],
                 key: Sequence[str], also: Sequence[tuple[str, Sequence[object]]] = (),
                 on_merged: Callable[[], None] = lambda: None) -> int:
    """Insert the staged rows whose ``key`` is not yet in ``target``, in one transaction; drop the stage.
    Returns the rows added.

    A plain INSERT ... SELECT ... WHERE NOT EXISTS: the writing account needs INSERT and
    SELECT only, and every error (a duplicate slipped in by a concurrent writer among them)
    fails the batch instead of being skipped. The stage must hold each key once. ``also``: statements
    (with their parameters) committed in the same transaction; ``on_merged``: called when all is written and not
    committed yet.
    """
    cols = ", ".join(f"`{c}`" for c in columns)
    match = " AND ".join(f"t.`{k}` = s.`{k}`" for k in key)
    with db.connect() as conn:
        cur = conn.cursor()
        with failing_as(f"merging {stage} into {target}", conn):
            cur.execute(f"INSERT INTO `{target}` ({cols}) SELECT {', '.join(values)} FROM {staged(db, stage)} AS s "
                        f"WHERE NOT EXISTS (SELECT 1 FROM `{target}` AS t WHERE {match})")
            added = cur.rowcount
            for statement, parameters in also:
                cur.execute(statement, parameters)
            on_merged()
            conn.commit()
        cur.execute(f"DROP TABLE IF EXISTS {staged(db, stage)}")
        conn.commit()
    return max(added, 0)

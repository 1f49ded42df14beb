"""MySQL / MariaDB at the edges of the jobs, without Spark: connection settings (Python and JDBC, with TLS when
configured), the schema's file, and MySQL errors as one sentence.

Each job reaches the database as its own account, which holds only the rights its job needs (kosctl/stack):
the load adds rows and can neither change nor delete one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mysql.connector
from mysql.connector import errors as mysql_errors

from kos.config import Config, Role
from kos.errors import KosError

__all__ = ["SCHEMA", "TABLES", "Database", "DatabaseError", "KeptConnection", "failing_as"]

# The tables the jobs write; `kos stack start` applies it (kosctl/stack/mariadb.py).
SCHEMA = Path(__file__).with_name("schema.sql")
TABLES = tuple(re.findall(r"^CREATE TABLE IF NOT EXISTS (\w+)", SCHEMA.read_text(), re.MULTILINE))


class DatabaseError(KosError):
    """MySQL could not be reached or refused a statement; the message says which and what to do."""


@dataclass(frozen=True)
class Database:
    host: str
    port: int
    database: str
    user: str
    password: str = field(repr=False)
    # TLS, verifying the server: the CA as PEM (Python) and as a PKCS#12 trust store (JDBC).
    ssl_ca: str = ""
    truststore: str = ""
    truststore_password: str = field(default="", repr=False)

    @classmethod
    def from_config(cls, cfg: Config, role: Role = "owner") -> Database:
        """The database as one of the config's accounts: ``owner``, ``load``, ``metrics`` or ``live``."""
        m = cfg.mysql
        user, password = cfg.mysql_account(role)
        if not m.tls:
            return cls(m.host, m.port, m.database, user, password)
        truststore_password = cfg.secret(m.ssl_truststore_password, m.ssl_truststore_password_file,
                                         "KOS_MYSQL_SSL_TRUSTSTORE_PASSWORD")
        return cls(m.host, m.port, m.database, user, password, str(cfg.path(m.ssl_ca)),
                   str(cfg.path(m.ssl_truststore)), truststore_password)

    @classmethod
    def reached(cls, cfg: Config, role: Role) -> Database:
        """The database as ``role``, once a connection as that account has been made: a job checks so before
        Spark starts, so that an unreachable server or a refused password is one line."""
        db = cls.from_config(cfg, role)
        with db.connect():
            pass
        return db

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

    def open(self, local_files: Path | None = None) -> Any:
        """A new connection in UTC with autocommit off, for the caller to close. ``local_files``: the one folder
        from which ``LOAD DATA LOCAL INFILE`` may send files."""
        try:
            tls = {"ssl_ca": self.ssl_ca, "ssl_verify_cert": True, "ssl_verify_identity": True} if self.ssl_ca else {}
            local = {"allow_local_infile_in_path": str(local_files)} if local_files else {}
            return mysql.connector.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                                           database=self.database, time_zone="+00:00", autocommit=False,
                                           connection_timeout=10, **tls, **local)
        except mysql_errors.Error as exc:
            raise DatabaseError(f"cannot connect to MySQL at {self.host}:{self.port} as {self.user}: {exc.msg}; "
                                "start it with `kos stack start` or check the KOS_MYSQL_* settings") from None

    @contextmanager
    def connect(self, local_files: Path | None = None) -> Iterator[Any]:
        """A new connection (``open``), closed on exit."""
        conn = self.open(local_files)
        try:
            yield conn
        finally:
            conn.close()


class KeptConnection:
    """One connection to a database kept open from use to use, as a live job's sink writes a batch every second or
    so: a new connection each time (its handshake, TLS negotiated) costs more than the batch's statements.

    Made when first used and checked with a ping before each use; a use ends any transaction it left open (a
    reader's snapshot must not outlive its batch); an error inside a use drops the connection, so the next use
    connects afresh (a server restarted in between is reached again, not failed on).

    >>> kept = KeptConnection(db)
    >>> with kept() as conn:
    ...     conn.cursor().execute("SELECT 1")
    """

    def __init__(self, db: Database, local_files: Path | None = None) -> None:
        self.db, self.local_files = db, local_files
        self._conn: Any = None

    @contextmanager
    def __call__(self) -> Iterator[Any]:
        if self._conn is None or not self._conn.is_connected():
            self.close()
            self._conn = self.db.open(self.local_files)
        try:
            yield self._conn
            if self._conn.in_transaction:
                self._conn.rollback()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except mysql_errors.Error:
                pass  # a connection that is gone already


@contextmanager
def failing_as(doing: str, conn: Any = None) -> Iterator[None]:
    """Inside, a MySQL error becomes a DatabaseError saying ``<doing> failed: <the server's words>``, after rolling
    back ``conn`` when one is given."""
    try:
        yield
    except mysql_errors.Error as exc:
        if conn is not None:
            try:
                conn.rollback()
            except mysql_errors.Error:
                pass  # the connection is gone: the server rolls back what it had of the transaction
        raise DatabaseError(f"{doing} failed: {exc.msg}") from None

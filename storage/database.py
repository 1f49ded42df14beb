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

__all__ = ["SCHEMA", "TABLES", "Database", "DatabaseError", "failing_as"]

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

"""MySQL over TLS: Python and JDBC clients verify the server against the configured CA, and an
account that requires TLS refuses a plain connection."""

from __future__ import annotations

import os

import mysql.connector
import pytest
from mysql.connector import errors as mysql_errors

from kos import config as kos_config
from kosctl.stack.mariadb import MariaDBStack
from kosctl.stack.tls import LocalCA
from storage.database import Database, DatabaseError

pytestmark = pytest.mark.integration

SSL_VERSION = "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_version'"


@pytest.fixture
def tls_cfg(mariadb) -> kos_config.Config:
    return kos_config.load(environ={**os.environ, "KOS_MYSQL_TLS": "true"})


def test_python_client_speaks_tls_and_verifies_the_server(tls_cfg, db):
    with Database.from_config(tls_cfg, "metrics").connect() as conn:
        cur = conn.cursor()
        cur.execute(SSL_VERSION)
        assert cur.fetchone()[0] in ("TLSv1.2", "TLSv1.3")


def test_jdbc_speaks_tls_with_the_trust_store(tls_cfg, spark, db):
    tls_db = Database.from_config(tls_cfg, "metrics")
    assert "sslMode=VERIFY_IDENTITY" in tls_db.jdbc_url
    (row,) = spark.read.jdbc(tls_db.jdbc_url, f"({SSL_VERSION}) AS t", properties=tls_db.jdbc_properties).collect()
    assert row[0] in ("TLSv1.2", "TLSv1.3")


def test_a_server_certificate_from_another_ca_is_refused(tls_cfg, db, tmp_path):
    other = LocalCA(tmp_path, "Other CA").ensure()
    base = Database.from_config(tls_cfg, "metrics")
    impostor_ca = Database(base.host, base.port, base.database, base.user, base.password, ssl_ca=str(other.cert),
                           truststore=base.truststore, truststore_password=base.truststore_password)
    refused = f"cannot connect to MySQL at 127.0.0.1:{base.port} as kos_metrics: .*certificate"
    with pytest.raises(DatabaseError, match=refused):
        with impostor_ca.connect():
            pass


def test_an_account_that_requires_tls_refuses_a_plain_connection(cfg, tls_cfg, mariadb):
    stack = MariaDBStack(cfg)
    stack.root_sql("CREATE OR REPLACE USER 'kos_tls_probe'@'127.0.0.1' IDENTIFIED BY 'probe' REQUIRE SSL;")
    try:
        with pytest.raises(mysql_errors.ProgrammingError, match="Access denied for user 'kos_tls_probe'"):
            mysql.connector.connect(host="127.0.0.1", port=cfg.mysql.port, user="kos_tls_probe", password="probe",
                                    ssl_disabled=True)
        conn = mysql.connector.connect(host="127.0.0.1", port=cfg.mysql.port, user="kos_tls_probe", password="probe",
                                       ssl_ca=str(tls_cfg.path(tls_cfg.mysql.ssl_ca)), ssl_verify_cert=True)
        cur = conn.cursor()
        cur.execute(SSL_VERSION)
        assert cur.fetchone()[0] in ("TLSv1.2", "TLSv1.3")
        conn.close()
    finally:
        stack.root_sql("DROP USER IF EXISTS 'kos_tls_probe'@'127.0.0.1';")

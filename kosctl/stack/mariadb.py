"""The local MariaDB: Debian's server on a project-local data folder, database ``kos``, user ``kos``."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

from kos.config import Config
from kosctl.stack.process import (
    StackError,
    describe,
    port_open,
    running_pid,
    secret_file,
    spawn,
    terminate,
    wait_until,
)
from kosctl.stack.tls import LocalCA
from storage.database import SCHEMA, Database, failing_as

__all__ = ["MariaDBStack", "apply_schema", "schema_statements"]

log = logging.getLogger(__name__)


def rights(db: str) -> dict[str, list[str]]:
    """Each account's rights on the database ``db``: only what its job needs."""
    metrics_tables = ("metrics_runs", "metrics_top_services", "metrics_top_processes", "metrics_starts_per_bucket")
    live_tables = ("live_starts", "live_late", "process_alerts")
    return {
        "owner": [f"ALL PRIVILEGES ON `{db}`.*"],
        # Adds events; it can neither change nor delete one.
        "load": [f"SELECT, INSERT ON `{db}`.process_events", f"SELECT, INSERT ON `{db}`.load_ledger"],
        "metrics": [f"SELECT ON `{db}`.process_events",
                    *(f"SELECT, INSERT, DELETE ON `{db}`.{table}" for table in metrics_tables),
                    *(f"SELECT ON `{db}`.{table}" for table in live_tables)],
        # Writes the live tables (replacing a minute's count, growing a storm), nothing else.
        "live": [*(f"SELECT, INSERT, UPDATE ON `{db}`.{table}" for table in live_tables),
                 f"SELECT, INSERT ON `{db}`.live_batches"],
    }


class MariaDBStack:
    """Install, start, stop and inspect a MariaDB server private to this project."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.data = config.state_dir / "mariadb" / "data"
        self.socket = config.state_dir / "run" / "mariadb.sock"
        self.pid_file = config.state_dir / "run" / "mariadb.pid"
        self.log_file = config.state_dir / "logs" / "mariadb.log"
        self.host = config.stack.host
        self.port = config.stack.mariadb_port
        self.tls = LocalCA(config.state_dir / "tls")

    def _server_args(self) -> list[str]:
        key, crt = self.tls.server("mariadb", self.host, hosts=(self.host, "localhost"))
        return [
            "--no-defaults",
            f"--datadir={self.data}",
            f"--socket={self.socket}",
            f"--port={self.port}",
            f"--bind-address={self.host}",
            f"--pid-file={self.config.state_dir / 'run' / 'mariadbd.pid'}",
            f"--log-error={self.log_file}",
            "--user=root",
            "--skip-name-resolve",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_bin",
            "--default-time-zone=+00:00",
            "--innodb-buffer-pool-size=512M",
            "--innodb-flush-log-at-trx-commit=1",
            "--local-infile=1",
            # TLS is offered always; accounts require it when [mysql] tls is on.
            f"--ssl-ca={self.tls.cert}",
            f"--ssl-cert={crt}",
            f"--ssl-key={key}",
        ]

    def install(self) -> None:
        if shutil.which("mariadbd") is None and not Path("/usr/sbin/mariadbd").exists():
            raise StackError("MariaDB is not installed: apt-get install mariadb-server")
        if (self.data / "mysql").is_dir():
            return
        self.data.mkdir(parents=True, exist_ok=True)
        log.info("initialising MariaDB data in %s", self.data)
        subprocess.run(
            ["mariadb-install-db", "--no-defaults", f"--datadir={self.data}", "--user=root",
             "--auth-root-authentication-method=socket", "--skip-test-db"],
            check=True, stdout=subprocess.DEVNULL,
        )

    def start(self) -> None:
        """Start the server unless it runs already, then make sure database and user exist."""
        if running_pid(self.pid_file) is None:
            if port_open(self.host, self.port):
                raise StackError(f"port {self.host}:{self.port} is taken by another program; "
                                 "stop it or set KOS_STACK_MARIADB_PORT")
            self.install()
            self.tls.truststore()
            self.socket.parent.mkdir(parents=True, exist_ok=True)
            spawn([_mariadbd(), *self._server_args()], self.pid_file, self.log_file)
            wait_until(
                lambda: port_open(self.host, self.port) and self.socket.exists(),
                timeout=60, what=f"MariaDB (log: {self.log_file})",
                alive=lambda: running_pid(self.pid_file) is not None,
            )
            log.info("MariaDB started on %s:%d", self.host, self.port)
        self._bootstrap()

    def _bootstrap(self) -> None:
        """Databases, the schema and the accounts, each with only the rights its job needs."""
        m = self.config.mysql
        db = m.database
        grants = rights(db)
        sql = [f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;"
               for name in (db,)]
        sql += [f"USE `{db}`;", SCHEMA.read_text()]
        for role, granted in grants.items():
            user = getattr(self.config.mysql, role).user
            quoted = self._password(role).replace("\\", "\\\\").replace("'", "\\'")
            for host in ("127.0.0.1", "localhost"):
                # Rights are reset each start, so an account holds exactly those listed here.
                sql += [f"CREATE USER IF NOT EXISTS '{user}'@'{host}' IDENTIFIED BY '{quoted}';",
                        f"ALTER USER '{user}'@'{host}' IDENTIFIED BY '{quoted}';",
                        f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM '{user}'@'{host}';",
                        f"ALTER USER '{user}'@'{host}' REQUIRE {'SSL' if m.tls else 'NONE'};"]
                sql += [f"GRANT {right} TO '{user}'@'{host}';" for right in granted]
        self.root_sql("\n".join(sql))

    def _password(self, role: str = "owner") -> str:
        """The account's configured password; generated into its git-ignored secrets file on first use."""
        account = getattr(self.config.mysql, role)
        return account.password.get_secret_value() or secret_file(self.config.path(account.password_file))

    def root_sql(self, sql: str) -> str:
        """Run SQL as the server's root over its Unix socket (socket authentication, no password).

        The statements go through standard input: passwords in them never show in a process list.
        """
        done = subprocess.run(
            ["mariadb", "--no-defaults", f"--socket={self.socket}", "-uroot", "--batch", "--skip-column-names"],
            input=sql, capture_output=True, text=True,
        )
        if done.returncode != 0:
            raise StackError(f"MariaDB refused a setup statement: {done.stderr.strip()}")
        return done.stdout

    def stop(self) -> None:
        if terminate(self.pid_file, timeout=60):
            log.info("MariaDB stopped")

    def status(self) -> str:
        mysql = self.config.mysql
        return describe("mariadb", self.pid_file, self.host, self.port,
                        f"database {mysql.database}, user {mysql.owner.user}; data {self.data}")


def _mariadbd() -> str:
    return shutil.which("mariadbd") or "/usr/sbin/mariadbd"


def schema_statements(text: str | None = None) -> list[str]:
    """The statements of storage/schema.sql, comments dropped."""
    text = SCHEMA.read_text() if text is None else text
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


def apply_schema(db: Database) -> None:
    """storage/schema.sql on ``db`` as its owner account (every statement is idempotent)."""
    with db.connect() as conn, failing_as(f"applying the schema as {db.user}"):
        cur = conn.cursor()
        for statement in schema_statements():
            cur.execute(statement)
        conn.commit()

"""A Spark standalone cluster (one master, one worker) and the Spark history server, on this machine.

They run the scripts of the installed pyspark package (``spark-class``), bound to the stack's
host (127.0.0.1 by default). The jobs reach the cluster with ``--master spark://HOST:PORT``,
the same way they would reach a real one.
"""

from __future__ import annotations

import json
import logging
import os
import re
import urllib.request
from pathlib import Path

from kos.config import Config
from kosctl.stack.process import StackError, describe, port_open, running_pid, spawn, terminate, wait_until

__all__ = ["SparkHistory", "SparkMaster", "SparkWorker", "spark_defaults", "spark_home"]

log = logging.getLogger(__name__)


def spark_home() -> Path:
    """The installed pyspark package, which holds Spark's bin/ and jars/."""
    from pyspark.find_spark_home import _find_spark_home

    return Path(_find_spark_home())


# A properties file's line: its key (empty before a leading separator), a separator, its value.
_PROPERTY = re.compile(r"([^\s=:]*)\s*[=:]?\s*(.*)")


def spark_defaults() -> dict[str, str]:
    """The settings of the spark-defaults.conf that this virtualenv's spark-submit reads (``$SPARK_CONF_DIR``, else
    Spark's conf/, which `make setup` links to the project's conf/spark); none if there is no such file.

    Read as Spark reads it (a Java properties file: ``key value`` or ``key=value``, ``#`` and ``!`` comments), but
    for backslash escapes and continued lines, which KOS's file does not use.
    """
    folder = os.environ.get("SPARK_CONF_DIR") or spark_home() / "conf"
    try:
        text = (Path(folder) / "spark-defaults.conf").read_text(encoding="latin-1")
    except FileNotFoundError:
        return {}
    found = {}
    for line in text.splitlines():
        line = line.lstrip()
        if line and line[0] not in "#!":
            key, value = _PROPERTY.fullmatch(line).groups()  # type: ignore[union-attr]  # matches any line
            found[key] = value.strip()
    return found


class _SparkDaemon:
    name = ""
    main = ""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.host = config.stack.host
        self.pid_file = config.state_dir / "run" / f"spark-{self.name}.pid"
        self.log_file = config.state_dir / "logs" / f"spark-{self.name}.out"
        self.home = config.state_dir / "spark"

    port = 0

    def args(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        return port_open(self.host, self.port)

    def detail(self) -> str:
        return ""

    def start(self) -> None:
        if running_pid(self.pid_file) is not None:
            log.info("Spark %s already running", self.name)
            return
        if port_open(self.host, self.port):
            raise StackError(f"port {self.host}:{self.port} is taken by another program; stop it or change "
                             f"the [stack] spark_* ports in the config")
        self.home.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, SPARK_LOCAL_IP=self.host, SPARK_LOCAL_HOSTNAME=self.host,
                   SPARK_HOME=str(spark_home()))
        spawn([str(spark_home() / "bin" / "spark-class"), self.main, *self.args()], self.pid_file, self.log_file,
              env=env)
        wait_until(self.ready, timeout=90, what=f"Spark {self.name} (log: {self.log_file})",
                   alive=lambda: running_pid(self.pid_file) is not None)
        log.info("Spark %s started: %s", self.name, self.detail())

    def stop(self) -> None:
        if terminate(self.pid_file, timeout=30):
            log.info("Spark %s stopped", self.name)

    def status(self) -> str:
        return describe(f"spark {self.name}", self.pid_file, self.host, self.port, self.detail())


class SparkMaster(_SparkDaemon):
    name = "master"
    main = "org.apache.spark.deploy.master.Master"

    @property
    def port(self) -> int:  # type: ignore[override]
        return self.config.stack.spark_master_port

    @property
    def url(self) -> str:
        return f"spark://{self.host}:{self.port}"

    @property
    def ui(self) -> str:
        return f"http://{self.host}:{self.config.stack.spark_master_ui_port}"

    def args(self) -> list[str]:
        return ["--host", self.host, "--port", str(self.port), "--webui-port",
                str(self.config.stack.spark_master_ui_port)]

    def alive_workers(self) -> int:
        """Workers registered with the master, from its JSON status page (0 if it does not answer)."""
        try:
            with urllib.request.urlopen(f"{self.ui}/json/", timeout=2) as response:
                return int(json.load(response).get("aliveworkers", 0))
        except (OSError, ValueError):
            return 0

    def detail(self) -> str:
        return f"{self.url}, UI {self.ui}"


class SparkWorker(_SparkDaemon):
    """One worker offering this machine's cores, registered with the local master."""

    name = "worker"
    main = "org.apache.spark.deploy.worker.Worker"

    def __init__(self, config: Config, memory: str = "4g") -> None:
        super().__init__(config)
        self.master = SparkMaster(config)
        self.memory = memory

    @property
    def port(self) -> int:  # type: ignore[override]
        return self.config.stack.spark_worker_ui_port

    def args(self) -> list[str]:
        return ["--host", self.host, "--webui-port", str(self.port), "--cores", str(os.cpu_count() or 1),
                "--memory", self.memory, "--work-dir", str(self.home / "work"), self.master.url]

    def ready(self) -> bool:
        return self.master.alive_workers() > 0

    def detail(self) -> str:
        return f"registered with {self.master.url}, UI http://{self.host}:{self.port}"


class SparkHistory(_SparkDaemon):
    """The history server over the jobs' event logs ([spark] event_log_dir)."""

    name = "history"
    main = "org.apache.spark.deploy.history.HistoryServer"

    @property
    def port(self) -> int:  # type: ignore[override]
        return self.config.stack.spark_history_port

    @property
    def events(self) -> Path:
        return self.config.path(self.config.spark.event_log_dir)

    def args(self) -> list[str]:
        self.events.mkdir(parents=True, exist_ok=True)
        props = self.home / "history.properties"
        props.write_text(
            f"spark.history.fs.logDirectory={self.events.as_uri()}\n"
            f"spark.history.ui.port={self.port}\n"
            "spark.history.fs.update.interval=5s\n"
        )
        return ["--properties-file", str(props)]

    def detail(self) -> str:
        return f"UI http://{self.host}:{self.port}, event logs {self.events}"

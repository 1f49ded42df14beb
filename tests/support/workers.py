"""Integration tests spread over pytest-xdist workers, each with a local stack of its own.

Worker ``gw0`` uses the project's stack (`kos stack`, state in ``.kos/``); worker ``gwN`` (N >= 1) its own Kafka,
MariaDB, Spark standalone and Airflow ports (the defaults + 20,000 + 1,000 × (N - 1)) and its own state folder
(``.kos/test-gwN``), so a test that stops a broker or the database, or runs `kos run` on the stack's state, disturbs
no test of another worker. The local CA, the secrets (``.kos/secrets``: paths of the configuration) and the
broker's jars are the project's, made once by the controller before any worker starts (``prepare``), so no two
workers ever make one file at once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from kos import config as kos_config

if TYPE_CHECKING:
    from kosctl.stack.kafka import KafkaStack
    from kosctl.stack.mariadb import MariaDBStack

PORTS = ("kafka_port", "kafka_controller_port", "kafka_sasl_ssl_port", "kafka_ssl_port", "mariadb_port",
         "spark_master_port", "spark_master_ui_port", "spark_worker_ui_port", "spark_history_port", "airflow_port")
SHARED = ("tls", "lib")  # the local CA and the broker's jars: every worker's stack uses the project's


def stack_env(cfg: kos_config.Config, worker: str) -> dict[str, str]:
    """The KOS_* settings that give ``worker`` its own stack ({} for the first worker: the project's stack)."""
    n = int(worker.removeprefix("gw"))
    if n == 0:
        return {}
    shift = 20_000 + 1_000 * (n - 1)
    stack = cfg.stack
    state = f"{stack.state_dir}/test-{worker}"
    env = {f"KOS_STACK_{key.upper()}": str(getattr(stack, key) + shift) for key in PORTS}
    env.update(KOS_STACK_STATE_DIR=state, KOS_KAFKA_BOOTSTRAP_SERVERS=f"{stack.host}:{stack.kafka_port + shift}",
               KOS_MYSQL_PORT=str(cfg.mysql.port + shift), KOS_SPARK_EVENT_LOG_DIR=f"{state}/spark-events")
    return env


def share_state(cfg: kos_config.Config, worker_cfg: kos_config.Config) -> None:
    """Link the project's shared state folders into the worker's state folder."""
    folder: Path = worker_cfg.state_dir
    if folder == cfg.state_dir:
        return
    folder.mkdir(parents=True, exist_ok=True)
    for name in SHARED:
        link = folder / name
        if not link.is_symlink():
            link.symlink_to(cfg.state_dir / name, target_is_directory=True)


def start(stack: KafkaStack | MariaDBStack) -> bool:
    """Start a local service (`kos stack`) unless it runs already; True if it was started here."""
    from kosctl.stack.process import running_pid

    started = running_pid(stack.pid_file) is None
    stack.start()
    return started


def stop(stacks: list[KafkaStack | MariaDBStack]) -> None:
    """Stop the services a test process started, unless KOS_TEST_KEEP_STACK keeps them for the next run."""
    if not os.environ.get("KOS_TEST_KEEP_STACK"):
        for stack in reversed(stacks):
            stack.stop()


def prepare(cfg: kos_config.Config) -> list[KafkaStack | MariaDBStack]:
    """Start the project's stack (the first worker's) unless it runs, which makes the CA, secrets and jars every
    worker shares; the services started here, for ``stop`` at the end of the run."""
    from kosctl.stack.kafka import KafkaStack
    from kosctl.stack.mariadb import MariaDBStack

    return [stack for stack in (KafkaStack(cfg), MariaDBStack(cfg)) if start(stack)]

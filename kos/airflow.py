"""Airflow for KOS: the environment its processes need, and `make airflow` (``airflow standalone``).

Everything Airflow keeps (metadata database, logs, generated passwords) lives under
``[airflow] home`` (git-ignored). The ``spark_default`` connection comes from an
environment variable built from ``[spark] master``, so pointing the DAGs at a cluster
is a config change (``KOS_SPARK_MASTER=spark://host:7077``), not a code change.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from kos import config as kos_config


def environment(cfg: kos_config.Config, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) plus what Airflow needs to run the KOS DAGs."""
    env = dict(os.environ if base is None else base)
    home = cfg.path(cfg.airflow.home)
    url = f"http://{cfg.stack.host}:{cfg.stack.airflow_port}"
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(cfg.project_dir / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__API__HOST": cfg.stack.host,
        "AIRFLOW__API__PORT": str(cfg.stack.airflow_port),
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
        "AIRFLOW_CONN_SPARK_DEFAULT": json.dumps({"conn_type": "spark", "host": cfg.spark.master}),
        # The tasks call spark-submit and kos from the project's virtual environment.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)]),
    })
    return env


def main() -> int:
    try:
        cfg = kos_config.load()
    except kos_config.ConfigError as exc:
        print(f"kos airflow: {exc}", file=sys.stderr)
        return 1
    env = environment(cfg)
    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    print(f"Airflow UI: {env['AIRFLOW__API__BASE_URL']}  (DAGs kos_pipeline, kos_metrics; "
          f"Spark master {cfg.spark.master})\n"
          f"Log in as admin; the password is generated at first start into "
          f"{home / 'simple_auth_manager_passwords.json.generated'}\n"
          f"Airflow home: {home}. Stop with Ctrl-C.", flush=True)
    airflow = str(Path(sys.executable).with_name("airflow"))
    os.execve(airflow, [airflow, "standalone"], env)


if __name__ == "__main__":
    sys.exit(main())

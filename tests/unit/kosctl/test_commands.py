"""The command lines `kos run`, `kos pipeline` and `kos job` start."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from kos import config as kos_config
from kosctl.commands import spark_submit
from kosctl.stack.spark import spark_home


def driver_command(argv: list[str], properties: Path) -> list[str]:
    """The driver JVM's command line that Spark's own launcher (what bin/spark-submit runs first) builds from
    ``spark-submit``'s arguments ``argv``, with ``properties`` as the user's spark-defaults.conf."""
    home = spark_home()
    built = subprocess.run(
        ["java", "-cp", f"{home}/jars/*", "org.apache.spark.launcher.Main", "org.apache.spark.deploy.SparkSubmit",
         "--properties-file", str(properties), *argv[1:]],
        env=dict(os.environ, SPARK_HOME=home, SPARK_SCALA_VERSION="2.13"), capture_output=True, check=True)
    return built.stdout.decode().split("\0")


def test_the_continuous_application_takes_its_whole_heap_at_start_and_keeps_the_user_s_options(tmp_path):
    user = tmp_path / "spark-defaults.conf"
    user.write_text("spark.driver.extraJavaOptions -Dlog4j2.configurationFile=/etc/kos/log4j2.properties\n")
    argv = spark_submit(kos_config.load(environ={"KOS_RUN_DRIVER_MEMORY": "1g"}), "continuous")
    assert argv[-1].endswith("jobs/continuous.py")
    command = driver_command(argv, user)
    options = command[command.index("-Xmx1g"):command.index("org.apache.spark.deploy.SparkSubmit")]
    assert options[:4] == ["-Xmx1g", "-Xms1g", "-XX:+AlwaysPreTouch",
                           "-Dlog4j2.configurationFile=/etc/kos/log4j2.properties"]


def test_the_dag_s_jobs_keep_spark_s_heap_settings():
    argv = spark_submit(kos_config.load(environ={}), "transform", "--available-now")
    assert "--driver-memory" not in argv and not any("JavaOptions" in a for a in argv)

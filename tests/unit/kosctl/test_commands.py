"""The command lines `kos run`, `kos pipeline` and `kos job` start."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from kos import config as kos_config
from kosctl.commands import spark_submit
from kosctl.stack.spark import spark_defaults, spark_home


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
    # The project's own JVM options (conf/spark/spark-defaults.conf), then the heap, then the user's.
    assert options[:5] == ["-Xmx1g", "-XX:-DontCompileHugeMethods", "-Xms1g", "-XX:+AlwaysPreTouch",
                           "-Dlog4j2.configurationFile=/etc/kos/log4j2.properties"]


def test_spark_defaults_are_read_as_spark_reads_them(tmp_path, monkeypatch):
    (tmp_path / "spark-defaults.conf").write_text(
        "# a comment\n! another\n\n  spark.a   one two \nspark.b=x=y\nspark.c: z\nspark.d\n")
    monkeypatch.setenv("SPARK_CONF_DIR", str(tmp_path))
    assert spark_defaults() == {"spark.a": "one two", "spark.b": "x=y", "spark.c": "z", "spark.d": ""}
    (tmp_path / "spark-defaults.conf").write_text("=no key\n")  # a line Java reads as an empty key: no crash
    assert spark_defaults() == {"": "no key"}
    monkeypatch.setenv("SPARK_CONF_DIR", str(tmp_path / "none"))
    assert spark_defaults() == {}


def test_the_dag_s_jobs_keep_spark_s_heap_settings():
    argv = spark_submit(kos_config.load(environ={}), "transform", "--available-now")
    assert "--driver-memory" not in argv and not any("JavaOptions" in a for a in argv)

"""The command lines `kos run`, `kos pipeline` and `kos job` start."""

from __future__ import annotations

from kos import config as kos_config
from kosctl.commands import spark_submit


def test_the_continuous_application_takes_its_whole_heap_at_start():
    cfg = kos_config.load(environ={"KOS_RUN_DRIVER_MEMORY": "1g"})
    argv = spark_submit(cfg, "continuous")
    assert argv[argv.index("--driver-memory") + 1] == "1g"
    assert argv[argv.index("--driver-java-options") + 1] == "-Xms1g -XX:+AlwaysPreTouch"
    assert argv[-1].endswith("jobs/continuous.py")


def test_the_dag_s_jobs_keep_spark_s_heap_settings():
    argv = spark_submit(kos_config.load(environ={}), "transform", "--available-now")
    assert "--driver-memory" not in argv and "--driver-java-options" not in argv

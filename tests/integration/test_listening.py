"""Everything KOS starts listens on the stack's host (127.0.0.1), witnessed by `ss` while it runs."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from jobs.session import job_conf
from kos import config as kos_config
from tests.support.submit import BIN, PROJECT

SS_PROCESS = re.compile(r"pid=(\d+)")


def host(address: str) -> str:
    """The host of an address as ss shows it; Java's IPv4-mapped IPv6 form (``[::ffff:127.0.0.1]``) as IPv4."""
    name = address.rsplit(":", 1)[0]
    return name.removeprefix("[::ffff:").removesuffix("]")


def listening(pgid: int) -> set[str]:
    """The local addresses (host:port) on which processes of the process group ``pgid`` listen (TCP)."""
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    found = set()
    for line in out.splitlines():
        fields = line.split()
        for pid in SS_PROCESS.findall(line):
            try:
                if os.getpgid(int(pid)) == pgid:
                    found.add(fields[3])
            except ProcessLookupError:
                pass
    return found


def watch(argv: list[str], env: dict[str, str], seconds: float = 240) -> tuple[set[str], subprocess.CompletedProcess]:
    """Run ``argv`` in its own process group and collect every address it listened on until it ended."""
    proc = subprocess.Popen(argv, cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    seen: set[str] = set()
    deadline = time.monotonic() + seconds
    while proc.poll() is None and time.monotonic() < deadline:
        seen |= listening(proc.pid)
        time.sleep(0.2)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    out, err = proc.communicate()
    return seen, subprocess.CompletedProcess(argv, proc.returncode, out, err)


def test_a_local_driver_binds_to_the_stack_host_and_submitted_settings_win():
    cfg = kos_config.load(environ={})
    local = job_conf(cfg, {"spark.master": "local[2]"})
    assert (local["spark.driver.bindAddress"], local["spark.driver.host"]) == ("127.0.0.1", "127.0.0.1")
    assert "spark.driver.host" not in job_conf(cfg, {"spark.master": "spark://10.0.0.5:7077"})
    given = job_conf(cfg, {"spark.master": "local[2]", "spark.driver.host": "10.0.0.9"})
    assert "spark.driver.host" not in given and given["spark.driver.bindAddress"] == "127.0.0.1"


@pytest.mark.integration
@pytest.mark.slow
def test_a_spark_job_listens_on_loopback_only(db):
    """spark-submit of a job with the local master: UI, driver RPC and block manager all on 127.0.0.1."""
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    env.pop("SPARK_LOCAL_IP", None)
    seen, done = watch([str(BIN / "spark-submit"), "--master", "local[2]", "--packages",
                        "com.mysql:mysql-connector-j:9.5.0", "jobs/metrics.py", "--tables-only"], env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "the Spark UI of this" not in done.stdout + done.stderr  # the job's own check agrees
    ports = {address.rsplit(":", 1)[1] for address in seen}
    assert any(4040 <= int(p) <= 4056 for p in ports), seen  # the UI was seen (4040, or a later one of 16 tries)
    assert len(seen) >= 3, seen  # UI, driver RPC, block manager
    assert {host(address) for address in seen} == {"127.0.0.1"}, seen


@pytest.mark.integration
def test_the_stack_listens_on_loopback_only(cfg, kafka, mariadb):
    for pid_file in (kafka.pid_file, mariadb.pid_file):
        pid = int(pid_file.read_text())
        addresses = listening(os.getpgid(pid))
        assert addresses, pid_file
        assert {host(address) for address in addresses} == {"127.0.0.1"}, addresses

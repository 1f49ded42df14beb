"""Debian's real Prometheus and Alertmanager for the tests, each on a free loopback port with its state in a
test's folder, stopped at the end (their packages' own services never run: make setup installs them so)."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.ports import free_port
from tests.support.waiting import answers, wait_for


def needs(program: str) -> str:
    found = shutil.which(program)
    if found is None:
        pytest.fail(f"{program} is not installed: `make setup` installs it (Debian's prometheus packages)")
    return found


@contextmanager
def _serving(argv: list[str], ready: str, log: Path) -> Iterator[None]:
    with open(log, "w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: answers(ready) or proc.poll() is not None, 60, f"{argv[0]} to answer")
        assert proc.poll() is None, log.read_text()[-3000:]
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=30)


class Alertmanager:
    """An Alertmanager with one receiver that sends nothing, no cluster listener (its default port, 9094, is
    the broker's SASL_SSL listener here); started with ``start`` (a test may start it late)."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "alertmanager.yml").write_text(
            "route:\n  receiver: keep\n  group_wait: 1s\nreceivers:\n  - name: keep\n")

    @contextmanager
    def start(self) -> Iterator[Alertmanager]:
        argv = [needs("prometheus-alertmanager"), f"--config.file={self.folder / 'alertmanager.yml'}",
                f"--storage.path={self.folder / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address="]
        with _serving(argv, f"{self.url}/-/ready", self.folder / "alertmanager.log"):
            yield self

    def alerts(self) -> list[dict]:
        """The active alerts as `amtool alert query` shows them."""
        done = subprocess.run([needs("amtool"), f"--alertmanager.url={self.url}", "alert", "query", "-o", "json"],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


@contextmanager
def prometheus(folder: Path, target: str) -> Iterator[str]:
    """A Prometheus scraping ``target`` (HOST:PORT) every second with KOS's rules; its URL."""
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    rules = Path(__file__).resolve().parents[2] / "conf" / "prometheus" / "kos-rules.yml"
    (folder / "prometheus.yml").write_text(
        f"global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: ['{rules}']\n"
        f"scrape_configs:\n  - job_name: kos\n    static_configs:\n      - targets: ['{target}']\n")
    url = f"http://127.0.0.1:{port}"
    argv = [needs("prometheus"), f"--config.file={folder / 'prometheus.yml'}", f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}"]
    with _serving(argv, f"{url}/-/ready", folder / "prometheus.log"):
        yield url


def query(url: str, expression: str) -> list[dict]:
    """The result of a PromQL instant query through Prometheus's HTTP API."""
    with urllib.request.urlopen(f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": expression}),
                                timeout=10) as answer:
        found = json.load(answer)
    assert found["status"] == "success", found
    return found["data"]["result"]

"""kos/prometheus.py: the exposition text, read back by Prometheus's own parser (promtool)."""

from __future__ import annotations

import doctest
import shutil
import subprocess

import pytest

from kos import prometheus
from kos.prometheus import Family, exposition


def test_the_examples_run():
    assert doctest.testmod(prometheus).failed == 0


def test_labels_with_quotes_backslashes_newlines_and_escapes_are_valid_exposition():
    text = exposition([Family("kos_file_lag_bytes", "gauge", "Bytes behind.", [
        ({"path": '/var/log/a"b\\c\nd\x1b[31m'}, 5), ({"path": "/plain"}, 0.25)])])
    # Control characters shown as text as everywhere in KOS (kos/text.py), then escaped for the format.
    assert text.splitlines()[2:] == ['kos_file_lag_bytes{path="/var/log/a\\"b\\\\c\\\\x0ad\\\\x1b[31m"} 5',
                                     'kos_file_lag_bytes{path="/plain"} 0.25']
    if shutil.which("promtool") is None:
        pytest.skip("promtool is not installed (make setup installs it)")
    checked = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr

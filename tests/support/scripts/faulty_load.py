"""The load job with the fault point of tests/support/fault_points.py in its sink (``KOS_TEST_KILL_AT``): submitted
with spark-submit exactly as jobs/load.py is, with PYTHONPATH holding the project (tests/integration/test_faults.py
does both)."""

from __future__ import annotations

import sys

from jobs.job import run_job
from jobs.load import load_job
from tests.support.fault_points import kill_at

if __name__ == "__main__":
    sys.exit(run_job(load_job(on_step=kill_at), sys.argv[1:]))

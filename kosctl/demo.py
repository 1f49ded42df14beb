"""`make demo`: the whole pipeline over the machine's syslog (or the bundled sample), then the answers.

Runs `kos pipeline --once` (ship, transform, load, metrics, report) on the local stack that
`make demo` started; a second run over the same file adds only what was appended since.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from kos import config as kos_config
from kos.text import error_line
from kosctl import pipeline

SAMPLE = Path(__file__).with_name("data") / "sample.syslog"


def pick_source(preferred: str = "/var/log/syslog") -> str:
    """The real syslog when this user can read it and it holds lines, else the bundled sample."""
    usable = os.path.isfile(preferred) and os.access(preferred, os.R_OK) and os.path.getsize(preferred) > 0
    return preferred if usable else str(SAMPLE)


def main() -> int:
    try:
        cfg = kos_config.load()
    except kos_config.ConfigError as exc:
        return error_line("kos demo", str(exc))
    return pipeline.main(cfg, [pick_source()], year=None, time_zone="UTC", bucket="hour", out="out/demo")


if __name__ == "__main__":
    sys.exit(main())

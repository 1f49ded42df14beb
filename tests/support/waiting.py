"""Waiting on a condition the test can observe (a row, a record, a file), never on the clock alone."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float, what: str, every: float = 0.3) -> T:
    """``condition()``'s first truthy value, checked every ``every`` seconds; AssertionError naming ``what``
    after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        assert time.monotonic() < deadline, f"waited {timeout:.0f} s for {what}"
        time.sleep(every)


def answers(url: str, timeout: float = 2) -> bool:
    """Whether an HTTP GET of ``url`` answers 200 now (a server that is not up yet answers False)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status == 200
    except OSError:
        return False

"""Text from logs and files, made safe to show: control, bidirectional and zero-width characters
(terminal escape sequences and newlines among them) become visible ``\\xNN`` / ``\\uNNNN``, and the
bytes of a file name that is not UTF-8 show as ``\\xNN``.

Every line KOS prints or logs goes through here: error lines through ``printable``, log records
through the formatter ``log_to_stderr`` installs.
"""

from __future__ import annotations

import logging
import os
import re
import sys

__all__ = ["PrintableFormatter", "log_to_stderr", "printable", "show_path"]

# C0 and C1 controls (all but the tab), DEL, bidirectional controls, zero-width characters, and lone
# surrogates (what Python makes of the bytes of a file name that is not UTF-8).
_INVISIBLE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _visible(m: re.Match[str]) -> str:
    code = ord(m.group())
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the byte itself
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every character that could move the cursor, recolour, reorder or break a line written out."""
    return _INVISIBLE.sub(_visible, text)


def show_path(path: str | bytes) -> str:
    """A file name as text one can read and copy: UTF-8 as it is, other bytes and controls as ``\\xNN``."""
    return printable(os.fsdecode(path))


def error_line(program: str, message: str, status: int = 1) -> int:
    """Say what went wrong in one printable line on stderr, ``program: message``; returns the exit ``status``."""
    print(f"{program}: {printable(message)}", file=sys.stderr, flush=True)
    return status


class PrintableFormatter(logging.Formatter):
    """Log lines whose message parts (a file name, a Kafka error) cannot carry escape sequences or line breaks.

    The traceback of an exception, when one is logged, keeps its lines.
    """

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's API)
        return printable(super().formatMessage(record))


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler writing to whatever ``sys.stderr`` is when a record comes (a test may have replaced it since)."""

    @property  # type: ignore[override]
    def stream(self):  # noqa: ANN201
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def log_to_stderr(level: int = logging.INFO, fmt: str = "%(asctime)s %(levelname)s %(name)s: %(message)s") -> None:
    """Configure the root logger once, in an entry point: one printable line per record on stderr."""
    handler = _Stderr()
    handler.setFormatter(PrintableFormatter(fmt))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Libraries that narrate every call at INFO: their warnings still show.
    for chatty in ("py4j", "mysql.connector"):
        logging.getLogger(chatty).setLevel(max(level, logging.WARNING))

"""What KOS prints and logs: control characters, escape sequences and undecodable name bytes shown as text."""

from __future__ import annotations

import logging

from kos.text import PrintableFormatter, printable, show_path


def test_printable_writes_out_controls_newlines_and_undecodable_bytes():
    assert printable("a\x1b]0;t\x07b\nc\r") == "a\\x1b]0;t\\x07b\\x0ac\\x0d"
    assert printable("caf\udce9\udcff") == "caf\\xe9\\xff"  # surrogateescape: the original bytes
    assert printable("tab\tstays, é stays") == "tab\tstays, é stays"
    assert show_path(b"/var/log/x\xff\x1b[2J") == "/var/log/x\\xff\\x1b[2J"


def test_log_lines_are_printable_and_tracebacks_keep_their_lines():
    formatter = PrintableFormatter("%(levelname)s %(message)s")
    record = logging.LogRecord("t", logging.WARNING, __file__, 1, "%s rotated", ("/l/\x1b[2Jx\ny",), None)
    assert formatter.format(record) == "WARNING /l/\\x1b[2Jx\\x0ay rotated"
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        failed = logging.LogRecord("t", logging.ERROR, __file__, 1, "failed \x07", (), sys.exc_info())
    lines = formatter.format(failed).splitlines()
    assert lines[0] == "ERROR failed \\x07" and lines[1] == "Traceback (most recent call last):"

"""Text from logs and files, made safe to show: control, bidirectional and zero-width characters
(terminal escape sequences among them) become visible ``\\xNN`` / ``\\uNNNN``."""

from __future__ import annotations

import re

_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with every character that could move the cursor, recolour or reorder it written out."""
    def visible(m: re.Match[str]) -> str:
        code = ord(m.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return _INVISIBLE.sub(visible, text)

"""The base of every error KOS reports to a person: one sentence that names the thing and says what to do.

Entry points catch ``KosError`` and print its message as one line; anything else is a bug and keeps its
traceback. A KOS error raised in a Spark task reaches the driver as text inside Spark's own error:
``kos.others.raised_in`` finds it there by the class's qualified name.
"""

from __future__ import annotations

__all__ = ["KosError"]


class KosError(Exception):
    """A failure with a message a person can act on (a missing broker, a refused password, a broken record)."""

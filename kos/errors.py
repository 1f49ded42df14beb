"""The base of every error KOS reports to a person: one sentence that names the thing and says what to do.

Entry points catch ``KosError`` and print its message as one line; anything else is a bug and keeps its
traceback. A KOS error raised in a Spark task reaches the driver as text inside Spark's own error:
``raised_in`` finds it there by the class's qualified name.
"""

from __future__ import annotations

__all__ = ["KosError", "raised_in"]


class KosError(Exception):
    """A failure with a message a person can act on (a missing broker, a refused password, a broken record)."""


def _names(cls: type[KosError]) -> list[str]:
    found = [f"{cls.__module__}.{cls.__qualname__}"]
    for sub in cls.__subclasses__():
        found += _names(sub)
    return found


def raised_in(text: str) -> str | None:
    """The message of the last KOS error in ``text`` (a traceback as Python prints it: ``module.Class: message``),
    or None. Only classes imported in this process are known, which are those its code can raise."""
    names = _names(KosError)
    for line in reversed([line.strip() for line in text.splitlines()]):
        for name in names:
            if line.startswith(name + ":"):
                return line[len(name) + 1:].strip()
    return None

"""Metrics in Prometheus's text exposition format (version 0.0.4), served on ``/metrics``.

A family is a metric's name, type and help text with its samples; names follow Prometheus's conventions (a
``kos_`` prefix, base units in the name: ``_seconds``, ``_bytes``; counters end in ``_total``).

>>> print(exposition([Family("kos_up", "gauge", "1 if the stage runs.", [({"stage": 'a"b'}, 1)])]), end="")
# HELP kos_up 1 if the stage runs.
# TYPE kos_up gauge
kos_up{stage="a\\"b"} 1
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from kos.errors import KosError
from kos.text import printable

__all__ = ["Family", "MetricsPortError", "exposition", "serve"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class MetricsPortError(KosError):
    """The metrics endpoint cannot listen where it was told to."""


@dataclass
class Family:
    name: str
    kind: str  # "counter" or "gauge"
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)


def _label(value: str) -> str:
    """A label value: control characters shown as text, then backslash, quote and newline escaped."""
    return printable(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def exposition(families: Sequence[Family]) -> str:
    out = []
    for f in families:
        out += [f"# HELP {f.name} {f.help}", f"# TYPE {f.name} {f.kind}"]
        for labels, value in f.samples:
            shown = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            out.append(f"{f.name}{{{shown}}} {_number(value)}" if shown else f"{f.name} {_number(value)}")
    return "\n".join(out) + "\n"


def serve(host: str, port: int, render: Callable[[], str], setting: str) -> ThreadingHTTPServer:
    """Serve ``render()`` on ``/metrics`` in a daemon thread; the caller shuts the server down. ``setting`` names
    where the port is configured, for the error when it cannot be had."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            if self.path != "/metrics":
                self.send_error(404)
                return
            body = render().encode()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as exc:
        raise MetricsPortError(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc} (choose another "
                               f"{setting})") from None
    threading.Thread(target=server.serve_forever, name="kos-metrics", daemon=True).start()
    return server

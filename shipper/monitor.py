"""Counters for monitoring, in Prometheus text format over HTTP (off unless a port is configured)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from kos.text import show_path
from shipper.errors import ShipperError
from shipper.ship import Shipper

__all__ = ["render", "serve"]


def render(shipper: Shipper) -> str:
    """The exposition text: per-file lag and checkpoint age, totals, records in flight."""
    now = time.time()
    out = [
        "# HELP kos_shipper_lag_bytes Bytes written to the file and not yet acknowledged by Kafka.",
        "# TYPE kos_shipper_lag_bytes gauge",
    ]
    for path, tail in sorted(shipper.tails.items()):
        out.append(f'kos_shipper_lag_bytes{{path="{_label(path)}"}} {tail.lag_bytes()}')
    out += ["# HELP kos_shipper_checkpoint_age_seconds Seconds since the file's checkpoint was last written.",
            "# TYPE kos_shipper_checkpoint_age_seconds gauge"]
    for path, tail in sorted(shipper.tails.items()):
        out.append(f'kos_shipper_checkpoint_age_seconds{{path="{_label(path)}"}} {now - tail.stats.checkpoint_at:.3f}')
    out += ["# HELP kos_shipper_records_in_flight Records sent and not yet acknowledged.",
            "# TYPE kos_shipper_records_in_flight gauge",
            f"kos_shipper_records_in_flight {shipper.summary.in_flight}"]
    for name, value in shipper.totals().items():
        out += [f"# TYPE kos_shipper_{name}_total counter", f"kos_shipper_{name}_total {value}"]
    return "\n".join(out) + "\n"


def _label(value: str) -> str:
    """A label value in the exposition format: the path shown as text, quotes and backslashes escaped."""
    return show_path(value).replace("\\", "\\\\").replace('"', '\\"')


def serve(shipper: Shipper, host: str, port: int) -> ThreadingHTTPServer:
    """Serve ``/metrics`` in a daemon thread; the caller shuts the server down."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            if self.path != "/metrics":
                self.send_error(404)
                return
            body = render(shipper).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as exc:
        raise ShipperError(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc} "
                           "(choose another --metrics-port / shipper.metrics_port)") from None
    threading.Thread(target=server.serve_forever, name="kos-metrics", daemon=True).start()
    return server

"""The shipper's counters for Prometheus (kos/prometheus.py), served when ``[shipper] metrics_port`` is set."""

from __future__ import annotations

import time
from http.server import ThreadingHTTPServer

from kos.prometheus import Family, exposition
from kos.prometheus import serve as serve_metrics
from kos.text import show_path
from shipper.ship import Shipper

__all__ = ["render", "serve"]

_TOTALS = {
    "lines": "Lines shipped (acknowledged by Kafka).",
    "bytes": "Bytes of the files shipped (acknowledged by Kafka).",
    "records": "Kafka records acknowledged.",
    "rotations": "Rotations of the followed files seen.",
    "truncations": "Truncations of the followed files seen (shipped again from the start).",
    "cut_lines": "Lines longer than max_line_bytes, shipped cut.",
}


def render(shipper: Shipper) -> str:
    """The exposition text: per-file lag and checkpoint age, totals, records in flight."""
    now = time.time()
    files = sorted(shipper.tails.items())
    families = [
        Family("kos_shipper_lag_bytes", "gauge", "Bytes written to the file and not yet acknowledged by Kafka.",
               [({"path": show_path(path)}, tail.lag_bytes()) for path, tail in files]),
        Family("kos_shipper_checkpoint_age_seconds", "gauge", "Seconds since the file's checkpoint was last written.",
               [({"path": show_path(path)}, round(now - tail.stats.checkpoint_at, 3)) for path, tail in files]),
        Family("kos_shipper_records_in_flight", "gauge", "Records sent and not yet acknowledged.",
               [({}, shipper.summary.in_flight)]),
    ]
    families += [Family(f"kos_shipper_{name}_total", "counter", _TOTALS[name], [({}, value)])
                 for name, value in shipper.totals().items()]
    return exposition(families)


def serve(shipper: Shipper, host: str, port: int) -> ThreadingHTTPServer:
    """Serve ``/metrics`` in a daemon thread; the caller shuts the server down."""
    return serve_metrics(host, port, lambda: render(shipper), "--metrics-port / shipper.metrics_port")

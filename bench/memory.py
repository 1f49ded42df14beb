"""Memory benchmark: the resident memory of each long-running stage over an hour's input at 1,000 lines/s,
replayed fast.

    python bench/memory.py [--lines 3600000] [--rate 20000] [--trigger "500 milliseconds"]

Appends ``--lines`` generated syslog lines (one in ten a start event) to a file at ``--rate`` lines a
second while kos-shipper follows it and jobs/transform.py and jobs/load.py run with processing-time
triggers (bench/live.py), until every event is a row. Each stage's process tree (the shipper; each job's
spark-submit JVM and its Python driver and workers) is sampled every 2 s: per stage the peak, and the
highest sample in the first and in the last quarter of the feed. Results: out/bench/memory.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent

from fixtures import ScratchTopics, bench_database, truncate  # noqa: E402
from live import LivePipeline  # noqa: E402

from kos import config as kos_config  # noqa: E402
from kosctl.synthetic import lines  # noqa: E402


def feed(path: Path, source: list[str], rate: int) -> float:
    """Append ``source`` to ``path`` at ``rate`` lines a second, a tenth of a second at a time; the seconds taken."""
    started, step = time.monotonic(), max(1, rate // 10)
    with open(path, "a") as out:
        for i, start in enumerate(range(0, len(source), step)):
            out.write("".join(line + "\n" for line in source[start:start + step]))
            out.flush()
            time.sleep(max(0.0, started + (i + 1) / 10 - time.monotonic()))
    return time.monotonic() - started


def quarters(samples: list[tuple[float, int]], fed: float) -> dict[str, int]:
    """Peak, and highest sample of the feed's first and last quarter, in MiB."""
    first = [b for t, b in samples if t < fed / 4] or [0]
    last = [b for t, b in samples if 3 * fed / 4 <= t <= fed] or [0]
    return {"peak": max(b for _, b in samples) // 2**20, "first_quarter_max": max(first) // 2**20,
            "last_quarter_max": max(last) // 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=3_600_000)
    parser.add_argument("--rate", type=int, default=20_000)
    parser.add_argument("--trigger", default="500 milliseconds", help="the jobs' processing-time interval")
    args = parser.parse_args()

    source = list(lines(args.lines, 0.1, 5, True, datetime(2026, 3, 1)))
    events = sum(1 for line in source if "]: Started " in line or "Successfully activated" in line)
    cfg = kos_config.load()
    owner, _ = bench_database(cfg)
    truncate(owner)
    folder = Path(tempfile.mkdtemp(prefix="kos-memory-"))
    log = folder / "syslog"
    log.touch()
    with ScratchTopics(cfg) as topics, LivePipeline(cfg, topics, log, folder, args.trigger, "memory",
                                                     sample_seconds=2) as live:
        fed = feed(log, source, args.rate)
        loaded = live.wait_for_rows(owner, events, 900)
        drained = time.monotonic() - live.started

    result = {"lines": args.lines, "rate": args.rate, "trigger": args.trigger, "events": events, "loaded": loaded,
              "feed_seconds": round(fed, 1), "all_loaded_after_seconds": round(drained, 1),
              "rss_mib": {stage: quarters(samples, fed) for stage, samples in live.rss.items() if samples},
              "batch_seconds": live.batch_seconds()}
    shutil.rmtree(folder, ignore_errors=True)
    print(f"{args.lines:,} lines ({events:,} events) fed in {fed:.0f} s at {args.rate:,} lines/s; {loaded:,} rows "
          f"after {drained:.0f} s (trigger {args.trigger})")
    for stage, m in result["rss_mib"].items():
        print(f"  {stage:10} RSS peak {m['peak']:5} MiB; highest in the first quarter {m['first_quarter_max']:5} MiB, "
              f"in the last {m['last_quarter_max']:5} MiB")
    (PROJECT / "out" / "bench").mkdir(parents=True, exist_ok=True)
    (PROJECT / "out" / "bench" / "memory.json").write_text(json.dumps(result, indent=2))
    if loaded < events:
        sys.exit(f"only {loaded:,} of {events:,} events arrived")


if __name__ == "__main__":
    main()

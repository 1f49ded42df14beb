"""Transform benchmark: 1,000,000 syslog lines already in a raw topic, jobs/transform.py with available-now, next to
a single Python process doing the same (kafka-python consumer, the parsing rules in Python, upb, producer).

    python bench/transform.py [--lines 1000000] [--repeat 3] [--master local[2] | spark://127.0.0.1:7077]

The file (about one line in ten an event, bench/gen_syslog.py) is shipped once into a fresh 3-partition
topic. Each run then transforms all of it into fresh parsed and dead-letter topics with a fresh
checkpoint: the job's own clock (query start to end) and the whole spark-submit (JVM start-up
included) are reported apart. Classic timestamps get the year 2026 in both. Medians of ``--repeat``
runs after a warm-up. Results: out/bench/transform.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

from scratch import ScratchTopics  # noqa: E402

from kos import config as kos_config  # noqa: E402
from kos.kafka_client import python_settings  # noqa: E402

SUMMARY = re.compile(r"kos-transform: (\d+) records, (\d+) candidate lines, (\d+) events, (\d+) dead letters in "
                     r"\d+ batches, ([\d.]+) s")


def spark_run(cfg: kos_config.Config, topics: ScratchTopics, raw: str, master: str) -> dict[str, float]:
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, KOS_KAFKA_RAW_TOPIC=raw,
               KOS_KAFKA_PARSED_TOPIC=topics.new("parsed"), KOS_KAFKA_DEAD_LETTER_TOPIC=topics.new("dl"),
               KOS_SPARK_CHECKPOINT_DIR=str(PROJECT / "out" / "bench" / "checkpoints" / uuid.uuid4().hex))
    started = time.perf_counter()
    done = subprocess.run([str(BIN / "spark-submit"), "--master", master, "--packages", cfg.spark.kafka_package,
                           str(PROJECT / "jobs" / "transform.py"), "--available-now", "--year", "2026"],
                          env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    match = SUMMARY.search(done.stdout)
    if done.returncode != 0 or not match:
        raise SystemExit(f"the transform failed: {(done.stdout + done.stderr)[-2000:]}")
    return {"wall": wall, "query": float(match.group(5)), "records": int(match.group(1)),
            "events": int(match.group(3))}


def python_baseline(cfg: kos_config.Config, topics: ScratchTopics, raw: str, lines: int) -> dict[str, float]:
    """One process: consume the raw topic, find and parse the candidates, encode with upb, produce."""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    from jobs import messages
    from jobs.protobuf.descriptors import message_class

    cls = message_class(messages.DESCRIPTORS.read_bytes(), messages.PROCESS_EVENT)
    header = re.compile(r"^([A-Za-z]{3}) {1,2}(\d{1,2}) (\d{1,2}):(\d{1,2}):(\d{1,2}) +([^\s\x01]+) +"
                        r"([^\s\[:\x01]+)(?:\[(\d{1,10})\])?: ?(.*)$", re.S)
    months = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
    started = time.perf_counter()
    settings = python_settings(cfg)
    consumer = KafkaConsumer(**settings, group_id=None, enable_auto_commit=False, fetch_max_bytes=64 * 1024 * 1024)
    parts = [TopicPartition(raw, p) for p in sorted(consumer.partitions_for_topic(raw))]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    end = consumer.end_offsets(parts)
    producer = KafkaProducer(**settings, acks="all", compression_type="lz4", linger_ms=5, batch_size=1 << 20)
    out, events, seen = topics.new("parsed"), 0, 0
    while any(consumer.position(p) < end[p] for p in parts):
        for tp, records in consumer.poll(timeout_ms=1000).items():
            for record in records:
                headers = dict(record.headers)
                base = int(headers["kos.offset"])
                for line in record.value.split(b"\n"):
                    seen += 1
                    at, base = base, base + len(line) + 1
                    if b"Started " not in line and b"Successfully activated" not in line:
                        continue
                    m = header.match(line.decode("utf-8", "replace"))
                    if not m or m.group(1) not in months:
                        continue
                    text = m.group(9)
                    if text.startswith("Started "):
                        action, service = "STARTED", text[8:].removesuffix(".")
                    elif "Successfully activated service '" in text:
                        action, service = "ACTIVATED", text.split("'")[1]
                    else:
                        continue
                    moment = datetime(2026, months[m.group(1)], int(m.group(2)), int(m.group(3)), int(m.group(4)),
                                      int(m.group(5)), tzinfo=UTC)
                    value = cls(event_time={"seconds": int(moment.timestamp())}, host=m.group(6), process=m.group(7),
                                pid=int(m.group(8)) if m.group(8) else None, service=service, action=action,
                                origin={"source": headers["kos.source"].decode(), "file": headers["kos.file"].decode(),
                                        "offset": at},
                                raw={"topic": raw, "partition": tp.partition, "offset": record.offset}
                                ).SerializeToString()
                    producer.send(out, value=value)
                    events += 1
    producer.flush()
    producer.close()
    consumer.close()
    seconds = time.perf_counter() - started
    if seen != lines:
        raise SystemExit(f"the baseline read {seen} lines, not {lines}")
    return {"wall": seconds, "query": seconds, "records": 0, "events": events}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--no-baseline", action="store_true", help="skip the single-process Python baseline")
    args = parser.parse_args()

    cfg = kos_config.load()
    out = PROJECT / "out" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    data = out / f"syslog-{args.lines}-events10.log"
    if not data.exists():
        subprocess.run([sys.executable, str(PROJECT / "bench" / "gen_syslog.py"), str(data), "--lines",
                        str(args.lines), "--events", "0.1"], check=True)
    with ScratchTopics(cfg) as topics:
        raw = topics.new("raw")
        subprocess.run([sys.executable, "-m", "shipper", "--once", "--no-progress", "--path", str(data), "--topic", raw,
                        "--checkpoint-dir", str(out / "checkpoints" / uuid.uuid4().hex)], check=True,
                       capture_output=True)

        spark_run(cfg, topics, raw, args.master)  # warm-up: page cache, broker, Ivy
        runs = [spark_run(cfg, topics, raw, args.master) for _ in range(args.repeat)]
        query = statistics.median(r["query"] for r in runs)
        wall = statistics.median(r["wall"] for r in runs)
        result = {"lines": args.lines, "master": args.master, "events": runs[0]["events"],
                  "query_s": round(query, 2), "spark_submit_s": round(wall, 2), "startup_s": round(wall - query, 2),
                  "lines_per_s": round(args.lines / query)}
        print(f"{args.lines:,} raw lines ({runs[0]['records']:,} records, {runs[0]['events']:,} events) on "
              f"{args.master}, medians of {args.repeat}:")
        print(f"  jobs/transform.py   {result['lines_per_s']:>10,} lines/s   query {query:.2f} s, spark-submit "
              f"{wall:.2f} s (start-up {wall - query:.2f} s)")
        if not args.no_baseline:
            base = statistics.median(python_baseline(cfg, topics, raw, args.lines)["wall"] for _ in range(args.repeat))
            result.update(python_s=round(base, 2), python_lines_per_s=round(args.lines / base),
                          speedup=round(base / query, 2))
            print(f"  one Python process  {result['python_lines_per_s']:>10,} lines/s   {base:.2f} s; the job is "
                  f"{result['speedup']}x faster")
    (out / f"transform-{args.master.replace('/', '').replace(':', '-')}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

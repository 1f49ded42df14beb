"""Codec benchmark: ProcessEvents through to_protobuf / from_protobuf on local[2], next to a plain upb loop.

    python bench/codec.py [--events 1000000] [--repeat 3] [--master local[2]]

The events are made and cached in Spark first; each run then encodes (or decodes) all of them into
Spark's no-op sink, so the time is the codec's (Arrow transfer to the Python workers included).
The loop encodes and decodes the same events with the upb runtime in this one process, one core.
Medians of ``--repeat`` runs after a warm-up. Results: out/bench/codec.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

from pyspark.sql import SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from jobs import messages  # noqa: E402
from jobs.protobuf import from_protobuf, to_protobuf  # noqa: E402
from jobs.protobuf.descriptors import message_class  # noqa: E402


def events(spark: SparkSession, n: int):
    """``n`` ProcessEvent structs, varied like real ones (a service of fifty, hosts of twenty, pid or none)."""
    i = F.col("id")
    return spark.range(n, numPartitions=4).select(F.struct(
        F.timestamp_micros(F.lit(1_790_000_000_000_000) + i * 1_000_003).alias("event_time"),
        F.concat(F.lit("host-"), (i % 20).cast("string")).alias("host"),
        F.when(i % 3 == 0, F.lit("dbus-daemon")).otherwise(F.lit("systemd")).alias("process"),
        F.when(i % 10 != 0, i % 40_000).alias("pid"),
        F.concat(F.lit("Service number "), (i % 50).cast("string"), F.lit(".service")).alias("service"),
        F.when(i % 3 == 0, F.lit("ACTIVATED")).otherwise(F.lit("STARTED")).alias("action"),
        F.struct(F.lit("vm").alias("source"), F.lit("fe01-5d2a1-1024-93995df840a1717e-0").alias("file"),
                 (i * 112).alias("offset")).alias("origin"),
        F.struct(F.lit("kos-raw-os-log").alias("topic"), (i % 3).cast("int").alias("partition"),
                 F.floor(i / 256).cast("long").alias("offset"),
                 F.timestamp_micros(F.lit(1_790_000_000_000_000) + i).alias("timestamp"))
        .alias("raw"),
    ).alias("message"))


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def upb_loop(rows: list, repeat: int) -> tuple[float, float]:
    """Encodes and decodes per second of the upb runtime in a plain Python loop (median of ``repeat``)."""
    import gc

    cls = message_class(messages.DESCRIPTORS.read_bytes(), messages.PROCESS_EVENT)
    kwargs = [dict(event_time={"seconds": r.event_time_s, "nanos": r.event_time_ns}, host=r.host, process=r.process,
                   pid=r.pid, service=r.service, action=r.action,
                   origin={"source": r.source, "file": r.file, "offset": r.origin_offset},
                   raw={"topic": r.topic, "partition": r.partition, "offset": r.raw_offset}) for r in rows]
    encodes, decodes = [], []
    gc.disable()
    for _ in range(repeat + 1):
        started = time.perf_counter()
        encoded = [cls(**k).SerializeToString() for k in kwargs]
        encodes.append(len(rows) / (time.perf_counter() - started))
        started = time.perf_counter()
        parse = cls.FromString
        decoded = [parse(b) for b in encoded]
        _ = [(m.host, m.process, m.pid, m.service, m.action, m.event_time.seconds, m.origin.file, m.raw.offset)
             for m in decoded]
        decodes.append(len(rows) / (time.perf_counter() - started))
    gc.enable()
    return statistics.median(encodes[1:]), statistics.median(decodes[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()

    spark = (SparkSession.builder.master(args.master).appName("kos-bench-codec")
             .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC")
             .config("spark.kos.protobuf.implementation", "kos")
             .getOrCreate())
    spark.sparkContext.setLogLevel("WARN")
    descriptor_set = messages.DESCRIPTORS.read_bytes()
    source = events(spark, args.events).cache()
    source.count()
    encoded = source.select(to_protobuf("message", messages.PROCESS_EVENT, binaryDescriptorSet=descriptor_set)
                            .alias("value"))
    # Stored under another plan than ``encoded``'s, so that timing the encoding never reads this cache.
    stored = source.select(to_protobuf("message", messages.PROCESS_EVENT, binaryDescriptorSet=descriptor_set)
                           .alias("value"), F.lit(0).alias("stored")).cache()
    stored.count()
    decoded = stored.select(from_protobuf("value", messages.PROCESS_EVENT, binaryDescriptorSet=descriptor_set)
                            .alias("event"))

    def encode() -> None:
        encoded.write.format("noop").mode("overwrite").save()

    def decode() -> None:
        decoded.write.format("noop").mode("overwrite").save()

    results = {}
    for name, action in (("to_protobuf", encode), ("from_protobuf", decode)):
        action()  # warm-up: Python workers, the descriptor set parsed once in each
        seconds = [timed(action) for _ in range(args.repeat)]
        results[name] = {"seconds_median": round(statistics.median(seconds), 3),
                         "events_per_s": round(args.events / statistics.median(seconds))}

    sample = source.limit(200_000).select(
        F.unix_seconds(F.col("message.event_time")).alias("event_time_s"),
        (F.unix_micros(F.col("message.event_time")) % 1_000_000 * 1000).alias("event_time_ns"),
        "message.host", "message.process", "message.pid", "message.service", "message.action",
        "message.origin.source", "message.origin.file", F.col("message.origin.offset").alias("origin_offset"),
        "message.raw.topic", "message.raw.partition", F.col("message.raw.offset").alias("raw_offset")).collect()
    spark.stop()
    encodes, decodes = upb_loop(sample, args.repeat)
    results["upb loop, 1 core"] = {"encodes_per_s": round(encodes), "decodes_per_s": round(decodes)}

    print(f"{args.events:,} kos.v1.ProcessEvent on {args.master}, medians of {args.repeat} after a warm-up")
    print(f"  to_protobuf    {results['to_protobuf']['events_per_s']:>12,} events/s "
          f"({results['to_protobuf']['seconds_median']} s)")
    print(f"  from_protobuf  {results['from_protobuf']['events_per_s']:>12,} events/s "
          f"({results['from_protobuf']['seconds_median']} s)")
    print(f"  upb loop, one core: {round(encodes):,} encodes/s, {round(decodes):,} decodes/s")
    out = PROJECT / "out" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "codec.json").write_text(json.dumps({"events": args.events, "master": args.master, **results}, indent=2))


if __name__ == "__main__":
    main()

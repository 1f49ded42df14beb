"""Codec benchmark: KOS's to_protobuf / from_protobuf on Spark next to a plain upb loop doing the same conversion,
results compared.

    python bench/codec.py [--events 1000000] [--repeat 3] [--master local[2]]

The same ``--events`` kos.v1.ProcessEvent structs (every field, ``raw.timestamp`` included) on both sides:

- Spark: the structs cached, then encoded (``to_protobuf``) and decoded (``from_protobuf`` with the load's
  options) into the no-op sink, so the time is the codec's (KOS's Java functions, in the executors' JVM);
- the loop, one process, one core: the same structs as an Arrow column in memory, encoded row by row with the upb
  runtime into a binary Arrow array, and that decoded back into an Arrow struct array of from_protobuf's type.

Checked: the loop's bytes equal Spark's row for row, and both decodings equal the structs encoded. Medians of
``--repeat`` runs after a warm-up. Results: out/bench/codec.json (``to_protobuf_per_s``, ``from_protobuf_per_s``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

import pyarrow as pa  # noqa: E402
from pyspark.sql import SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from jobs import messages  # noqa: E402
from kos import config as kos_config  # noqa: E402
from kosproto import from_protobuf, to_protobuf  # noqa: E402
from kosproto.descriptors import message_class  # noqa: E402

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def events(spark: SparkSession, n: int):
    """``n`` ProcessEvent structs, varied like real ones (a service of fifty, hosts of twenty, pid or none)."""
    i = F.col("id")
    return spark.range(n, numPartitions=4).select("id", F.struct(
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


def micros(moment: datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def stamp(moment: datetime) -> dict[str, int]:
    m = micros(moment)
    return {"seconds": m // 1_000_000, "nanos": m % 1_000_000 * 1000}


def loop_encode(cls, structs: pa.Array) -> pa.Array:
    """Arrow structs to a binary Arrow array, row by row, the plain way."""
    out = []
    for row in structs.to_pylist():
        fields = {k: v for k, v in row.items() if v is not None and k not in ("event_time", "raw")}
        raw = dict(row["raw"], timestamp=stamp(row["raw"]["timestamp"]))
        out.append(cls(**fields, event_time=stamp(row["event_time"]), raw=raw).SerializeToString())
    return pa.array(out, pa.binary())


def loop_decode(cls, values: pa.Array, arrow_type: pa.DataType) -> pa.Array:
    """A binary Arrow array to from_protobuf's struct type (with emit.default.values), row by row."""
    rows = []
    for value in values.to_pylist():
        m = cls.FromString(value)
        rows.append({
            "event_time": m.event_time.seconds * 1_000_000 + m.event_time.nanos // 1000, "host": m.host,
            "process": m.process, "pid": m.pid if m.HasField("pid") else None, "service": m.service,
            "action": cls.Action.Name(m.action),
            "origin": {"source": m.origin.source, "file": m.origin.file, "offset": m.origin.offset},
            "raw": {"topic": m.raw.topic, "partition": m.raw.partition, "offset": m.raw.offset,
                    "timestamp": m.raw.timestamp.seconds * 1_000_000 + m.raw.timestamp.nanos // 1000},
        })
    return pa.array(rows, arrow_type)


def upb_loop(cls, structs: pa.Array, arrow_type: pa.DataType, repeat: int) -> tuple[float, float, pa.Array, pa.Array]:
    """Median seconds to encode and to decode every struct (after a warm-up), and the last results."""
    encodes, decodes = [], []
    gc.disable()
    try:
        for _ in range(repeat + 1):
            started = time.perf_counter()
            encoded = loop_encode(cls, structs)
            encodes.append(time.perf_counter() - started)
            started = time.perf_counter()
            decoded = loop_decode(cls, encoded, arrow_type)
            decodes.append(time.perf_counter() - started)
    finally:
        gc.enable()
    return statistics.median(encodes[1:]), statistics.median(decodes[1:]), encoded, decoded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()

    cfg = kos_config.load()
    descriptor_set = cfg.path(cfg.kafka.descriptor_set).read_bytes()
    spark = (SparkSession.builder.master(args.master).appName("kos-bench-codec")
             .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC")
             .config("spark.driver.memory", "4g")
             .getOrCreate())
    spark.sparkContext.setLogLevel("WARN")
    source = events(spark, args.events).cache()
    source.count()
    encoded = source.select("id", to_protobuf("message", messages.PROCESS_EVENT, binaryDescriptorSet=descriptor_set)
                            .alias("value"))
    # Stored under another plan than ``encoded``'s, so that timing the encoding never reads this cache.
    stored = source.select("id", to_protobuf("message", messages.PROCESS_EVENT, binaryDescriptorSet=descriptor_set)
                           .alias("value"), F.lit(0).alias("stored")).cache()
    stored.count()
    decoded = stored.select("id", from_protobuf("value", messages.PROCESS_EVENT, options=messages.LOAD_OPTIONS,
                                                binaryDescriptorSet=descriptor_set).alias("event"))

    results = {}
    for name, frame in (("to_protobuf", encoded), ("from_protobuf", decoded)):
        def write(frame=frame) -> None:
            frame.write.format("noop").mode("overwrite").save()

        write()  # warm-up: the JIT, the descriptor set parsed once
        seconds = statistics.median(timed(write) for _ in range(args.repeat))
        results[name] = {"seconds": round(seconds, 3), "events_per_s": round(args.events / seconds)}

    structs = source.orderBy("id").select("message").toArrow().column("message").combine_chunks()
    spark_bytes = stored.orderBy("id").select("value").toArrow().column("value").combine_chunks()
    spark_decoded = decoded.orderBy("id").select("event").toArrow().column("event").combine_chunks()
    spark.stop()

    cls = message_class(descriptor_set, messages.PROCESS_EVENT)
    encode_s, decode_s, loop_bytes, loop_decoded = upb_loop(cls, structs, spark_decoded.type, args.repeat)
    if not loop_bytes.equals(spark_bytes):
        first = next(i for i in range(len(loop_bytes)) if loop_bytes[i] != spark_bytes[i])
        raise SystemExit(f"to_protobuf and the loop encode row {first} differently: {spark_bytes[first]} / "
                         f"{loop_bytes[first]}")
    for name, found in (("from_protobuf", spark_decoded), ("the loop", loop_decoded)):
        if not found.cast(structs.type).equals(structs):
            raise SystemExit(f"{name} does not give back the structs encoded")
    results["upb loop, 1 core"] = {"encode_seconds": round(encode_s, 3), "encode_per_s": round(args.events / encode_s),
                                   "decode_seconds": round(decode_s, 3), "decode_per_s": round(args.events / decode_s)}
    results["to_protobuf_vs_loop"] = round(encode_s / results["to_protobuf"]["seconds"], 2)
    results["from_protobuf_vs_loop"] = round(decode_s / results["from_protobuf"]["seconds"], 2)

    print(f"{args.events:,} kos.v1.ProcessEvent (every field) on {args.master}, medians of {args.repeat} after a "
          "warm-up; bytes and decoded structs compared")
    print(f"  to_protobuf    {results['to_protobuf']['events_per_s']:>12,} events/s "
          f"({results['to_protobuf']['seconds']} s)   upb loop {round(args.events / encode_s):>10,} events/s "
          f"({encode_s:.2f} s): "
          f"{results['to_protobuf_vs_loop']}x the loop")
    print(f"  from_protobuf  {results['from_protobuf']['events_per_s']:>12,} events/s "
          f"({results['from_protobuf']['seconds']} s)   upb loop {round(args.events / decode_s):>10,} events/s "
          f"({decode_s:.2f} s): {results['from_protobuf_vs_loop']}x the loop")
    out = PROJECT / "out" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "codec.json").write_text(json.dumps({
        "events": args.events, "master": args.master, "to_protobuf_per_s": results["to_protobuf"]["events_per_s"],
        "from_protobuf_per_s": results["from_protobuf"]["events_per_s"], **results}, indent=2))


if __name__ == "__main__":
    main()

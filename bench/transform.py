"""Transform benchmark: jobs/transform.py next to one plain Python process doing the same work, outputs compared.

    python bench/transform.py [--lines 1000000] [--repeat 3] [--master local[2] | spark://127.0.0.1:7077]
                              [--no-baseline] [--time-zone UTC]

A generated syslog (``python -m kosctl.synthetic --mixed``: classic and RFC 3339 times at several offsets, one
line in ten an event, candidates that are no event, dead letters of two kinds) is shipped once into a
fresh raw topic. Each round then runs, side by side, into fresh parsed and dead-letter topics:

- ``spark-submit jobs/transform.py --available-now`` as `kos job transform` submits it (fresh checkpoint, the
  year rule, ``--time-zone``);
- ``bench/transform_one_process.py``: the same rules, keys, headers, values, dead letters and topics in
  one Python process (kafka-python, upb).

Both are timed the same two ways: the whole process (interpreter or JVM start-up included), and its work, from its
first record read to its last record acknowledged (the job: its first batch's start to its last batch's end, from
the query's progress events in its Spark event log). Every run's output topics are read back and compared record
for record (key, value, headers) with the other side's: the benchmark fails on any difference. Medians of
``--repeat`` rounds after a warm-up round. The first measured job's Spark event log is summarised (jobs, stages,
tasks with their CPU time) with each batch's ``durationMs``. The CPU seconds of each side's process tree and of the
broker, sampled every 0.1 s, over the job's work and over the one process's run: ``job_work_cpu_s``,
``one_process_cpu_s``; the first measured job's whole run by kind of thread (JIT compilers, task threads, ...):
``job_threads_cpu_s``. Results: out/bench/transform-<master>.json (with ``--lines`` other than
1,000,000: transform-<master>-<N>M.json), with ``speedup`` (one process's work / the job's work) and
``speedup_whole`` (one process's whole run / the whole spark-submit).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

from eventlog import batches_ms, describe, profile, progress, work, work_window  # noqa: E402
from fixtures import ScratchTopics, servers  # noqa: E402
from processes import CpuSampler, medians  # noqa: E402

from kos import config as kos_config  # noqa: E402
from kos.kafka_client import python_settings, read_to_end  # noqa: E402
from kosctl.commands import spark_submit  # noqa: E402


def records_digest(cfg: kos_config.Config, topic: str) -> Counter[str]:
    """Every record of ``topic`` as a digest of its key, value and headers (a multiset: repeats count)."""
    found: Counter[str] = Counter()
    for r in read_to_end(python_settings(cfg), topic):
        h = hashlib.sha256()
        for part in (r.key or b"", r.value or b"", *(k.encode() + b"=" + (v or b"") for k, v in r.headers)):
            h.update(len(part).to_bytes(8, "big") + part)
        found[h.hexdigest()] += 1
    return found


def broker(cfg: kos_config.Config) -> dict[str, int]:
    """The Kafka broker's pid by name: both sides read from it and write to it."""
    return {name: pid for name, pid in servers(cfg).items() if name == "kafka broker"}


def job_run(cfg: kos_config.Config, topics: ScratchTopics, raw: str, master: str, zone: str, event_log: Path) -> dict:
    """``spark-submit jobs/transform.py --available-now`` as `kos job transform` submits it; its batches' timings
    from its event log (a fresh folder)."""
    parsed, dead = topics.new("parsed"), topics.new("dl")
    with tempfile.TemporaryDirectory() as scratch:
        summary = Path(scratch) / "summary.json"
        env = dict(os.environ, PYSPARK_PYTHON=sys.executable, KOS_KAFKA_RAW_TOPIC=raw, KOS_KAFKA_PARSED_TOPIC=parsed,
                   KOS_KAFKA_DEAD_LETTER_TOPIC=dead, KOS_SPARK_CHECKPOINT_DIR=str(Path(scratch) / "checkpoints"))
        argv = spark_submit(cfg, "transform", "--available-now", "--time-zone", zone, "--summary", str(summary))
        argv[argv.index("--master") + 1] = master
        shutil.rmtree(event_log, ignore_errors=True)
        event_log.mkdir(parents=True)
        argv[1:1] = ["--conf", f"spark.eventLog.dir={event_log.as_uri()}", "--conf", "spark.eventLog.enabled=true"]
        started = time.perf_counter()
        job = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               cwd=PROJECT)
        with CpuSampler({"spark-submit": job.pid, **broker(cfg)}, threads="spark-submit") as cpu:
            output, _ = job.communicate()
        whole = time.perf_counter() - started
        if job.returncode != 0 or not summary.exists():
            raise SystemExit(f"the transform failed: {output[-3000:]}")
        s = json.loads(summary.read_text())
    reports = progress(next(event_log.iterdir()))
    return {"whole": whole, "work": work(reports), "cpu_s": cpu.between(*work_window(reports)),
            "threads_cpu_s": cpu.by_thread(),
            "query": s["seconds"], "events": s["events"],
            "dead_letters": s["dead_letters"], "candidates": s["candidates"], "records": s["records"],
            "batches_ms": batches_ms(reports), "parsed": parsed, "dead": dead, "event_log": event_log}


def one_process_run(cfg: kos_config.Config, topics: ScratchTopics, raw: str, zone: str) -> dict:
    parsed, dead = topics.new("parsed"), topics.new("dl")
    started, begun = time.perf_counter(), time.time()
    single = subprocess.Popen([sys.executable, str(PROJECT / "bench" / "transform_one_process.py"), raw, parsed, dead,
                               "--time-zone", zone], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=PROJECT)
    with CpuSampler({"one process": single.pid, **broker(cfg)}) as cpu:
        output, errors = single.communicate()
    whole = time.perf_counter() - started
    if single.returncode != 0:
        raise SystemExit(f"the one-process transform failed: {errors[-3000:]}")
    s = json.loads(output.strip().splitlines()[-1])
    return {"whole": whole, "work": s["seconds"], "cpu_s": cpu.between(begun, time.time()),
            "events": s["events"], "dead_letters": s["dead_letters"],
            "candidates": s["candidates"], "lines": s["lines"], "parsed": parsed, "dead": dead}


def check_same(cfg: kos_config.Config, runs: list[dict], expected: dict[str, Counter[str]] | None
               ) -> dict[str, Counter[str]]:
    """Each run's two topics hold the same records as every other run's; the records of the first."""
    for run in runs:
        found = {"parsed": records_digest(cfg, run["parsed"]), "dead": records_digest(cfg, run["dead"])}
        for kind, want in run_counts(run).items():
            if sum(found[kind].values()) != want:
                raise SystemExit(f"{run['parsed']}: {sum(found[kind].values())} {kind} records, the run said {want}")
        if expected is None:
            expected = found
        for kind in ("parsed", "dead"):
            if found[kind] != expected[kind]:
                missing = sum((expected[kind] - found[kind]).values())
                extra = sum((found[kind] - expected[kind]).values())
                raise SystemExit(f"the outputs differ: {kind} topic {run[kind]} lacks {missing} records of the "
                                 f"first run and has {extra} it does not have")
    assert expected is not None
    return expected


def run_counts(run: dict) -> dict[str, int]:
    return {"parsed": run["events"], "dead": run["dead_letters"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--time-zone", default="UTC")
    parser.add_argument("--no-baseline", action="store_true", help="skip the one-process transform")
    args = parser.parse_args()

    cfg = kos_config.load()
    out = PROJECT / "out" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    data = out / f"syslog-{args.lines}-mixed.log"
    if not data.exists():
        subprocess.run([sys.executable, "-m", "kosctl.synthetic", str(data), "--lines",
                        str(args.lines), "--events", "0.1", "--mixed"], check=True)
    jobs, singles = [], []
    expected = None
    with ScratchTopics(cfg) as topics, tempfile.TemporaryDirectory() as logs:
        raw = topics.new("raw")
        subprocess.run([sys.executable, "-m", "shipper", "--once", "--no-progress", "--path", str(data), "--topic", raw,
                        "--checkpoint-dir", str(Path(logs) / "shipper")], check=True, capture_output=True)
        event_log = Path(logs) / "events"
        # A warm-up round (page cache, broker, Ivy), then the measured rounds, the two sides taking turns.
        for round_ in range(args.repeat + 1):
            job = job_run(cfg, topics, raw, args.master, args.time_zone, event_log / str(round_))
            single = None if args.no_baseline else one_process_run(cfg, topics, raw, args.time_zone)
            expected = check_same(cfg, [job, *([single] if single else [])], expected)
            topics.drop([job["parsed"], job["dead"], *([single["parsed"], single["dead"]] if single else [])])
            if single and single["lines"] != args.lines:
                raise SystemExit(f"the one-process transform read {single['lines']} lines, not {args.lines}")
            if round_:
                jobs.append(job)
                singles += [single] if single else []
        if args.repeat:
            kept = out / "transform-eventlog"
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(next((event_log / "1").iterdir()), kept)
        spark_profile = profile(kept) if args.repeat else {}

    def median(runs: list[dict], key: str) -> float:
        return round(statistics.median(r[key] for r in runs), 2)

    first = jobs[0]
    result = {
        "lines": args.lines, "master": args.master, "time_zone": args.time_zone, "rounds": args.repeat,
        "records": first["records"], "candidates": first["candidates"], "events": first["events"],
        "dead_letters": first["dead_letters"],
        "job_work_s": median(jobs, "work"), "job_query_s": median(jobs, "query"),
        "job_whole_s": median(jobs, "whole"), "job_startup_s": round(median(jobs, "whole") - median(jobs, "query"), 2),
        "job_lines_per_s": round(args.lines / median(jobs, "work")),
        "job_batches_ms": first["batches_ms"], "job_profile": spark_profile,
        "job_work_cpu_s": medians([j["cpu_s"] for j in jobs]), "job_threads_cpu_s": first["threads_cpu_s"],
    }
    print(f"{args.lines:,} raw lines ({first['records']:,} records, {first['candidates']:,} candidates, "
          f"{first['events']:,} events, {first['dead_letters']:,} dead letters) on {args.master}, medians of "
          f"{args.repeat} rounds after a warm-up; every run's records compared")
    print(f"  jobs/transform.py             work {result['job_work_s']:7.2f} s  {result['job_lines_per_s']:>9,} "
          f"lines/s   whole spark-submit {result['job_whole_s']:6.2f} s (start-up and stop "
          f"{result['job_startup_s']:.2f} s)")
    print("    CPU seconds over its work: " + ", ".join(f"{k} {v}" for k, v in result["job_work_cpu_s"].items()))
    print("    CPU seconds of the whole spark-submit by thread: "
          + ", ".join(f"{k} {v}" for k, v in list(result["job_threads_cpu_s"].items())[:8]))
    if singles:
        result.update(one_process_work_s=median(singles, "work"), one_process_whole_s=median(singles, "whole"),
                      one_process_lines_per_s=round(args.lines / median(singles, "work")),
                      one_process_cpu_s=medians([s["cpu_s"] for s in singles]))
        result.update(speedup=round(result["one_process_work_s"] / result["job_work_s"], 2),
                      speedup_whole=round(result["one_process_whole_s"] / result["job_whole_s"], 2))
        print(f"  one Python process            work {result['one_process_work_s']:7.2f} s  "
              f"{result['one_process_lines_per_s']:>9,} lines/s   whole process {result['one_process_whole_s']:6.2f} s")
        print("    CPU seconds over its run: " + ", ".join(f"{k} {v}" for k, v in result["one_process_cpu_s"].items()))
        print(f"  the job's speed-up: {result['speedup']}x on the work, {result['speedup_whole']}x on the whole run "
              "(above 1: the job is faster)")
    for batch in first["batches_ms"]:
        print("  batch: " + ", ".join(f"{k} {v}" for k, v in batch.items()))
    if spark_profile:
        print(describe(spark_profile))
    size = "" if args.lines == 1_000_000 else f"-{args.lines / 1_000_000:g}M"
    name = f"transform-{args.master.replace('/', '').replace(':', '-')}{size}.json"
    (out / name).write_text(json.dumps(result, indent=2))
    print(f"written to {out / name}")


if __name__ == "__main__":
    main()

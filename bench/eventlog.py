"""Where a Spark application's time went, read from its event log (what the history server shows): each job,
its stages and their tasks, in order.

    python bench/eventlog.py EVENT_LOG_FILE

A benchmark points a run's ``spark.eventLog.dir`` at a folder of its own and reads the one file in it.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any


def read_events(path: Path) -> list[dict[str, Any]]:
    """The events of an event log: one file, or a rolling log's folder of ``events_<n>_<app>`` files."""
    files = sorted(path.glob("events_*"), key=lambda f: int(f.name.split("_")[1])) if path.is_dir() else [path]
    events = []
    for file in files:
        raw = file.read_bytes()
        if file.suffix == ".zstd":  # Spark compresses event logs with zstd by default
            import zstandard

            raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw)).read()
        events += [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
    return events


PROGRESS = "org.apache.spark.sql.streaming.StreamingQueryListener$QueryProgressEvent"


def progress(path: Path) -> list[dict[str, Any]]:
    """The streaming queries' progress reports, in order (Spark logs each micro-batch's as an event)."""
    return [event["progress"] for event in read_events(path) if event["Event"] == PROGRESS]


def rows(report: dict[str, Any]) -> int:
    """The rows a batch read (its sources' ``numInputRows``: the event log's progress has no total)."""
    return sum(source.get("numInputRows", 0) for source in report.get("sources", []))


def work_window(reports: list[dict[str, Any]]) -> tuple[float, float]:
    """The first batch's start and the last batch's end (seconds since the epoch), of the batches that read rows."""
    from datetime import datetime

    def start(report: dict[str, Any]) -> float:
        return datetime.fromisoformat(report["timestamp"].replace("Z", "+00:00")).timestamp()

    busy = [r for r in reports if rows(r)]
    return min(start(r) for r in busy), max(start(r) + r["durationMs"]["triggerExecution"] / 1000 for r in busy)


def work(reports: list[dict[str, Any]]) -> float:
    """Seconds from the first batch's start to the last batch's end, of the batches that read rows."""
    begun, ended = work_window(reports)
    return ended - begun


def batches_ms(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each batch's rows and ``durationMs`` (its phases, in milliseconds)."""
    return [{"batch": r["batchId"], "rows": rows(r), **r["durationMs"]} for r in reports]


def profile(path: Path) -> dict[str, Any]:
    """Jobs with their stages, each stage with its tasks' durations (launch to finish), executor run and CPU times,
    all in milliseconds, and the application's start and end."""
    stages: dict[int, dict[str, Any]] = {}
    jobs: list[dict[str, Any]] = []
    app: dict[str, Any] = {}
    for event in read_events(path):
        kind = event["Event"]
        if kind == "SparkListenerApplicationStart":
            app["start"] = event["Timestamp"]
        elif kind == "SparkListenerApplicationEnd":
            app["end"] = event["Timestamp"]
        elif kind == "SparkListenerJobStart":
            jobs.append({"job": event["Job ID"], "submitted": event["Submission Time"],
                         "stages": event["Stage IDs"],
                         "description": event.get("Properties", {}).get("spark.job.description", "")})
        elif kind == "SparkListenerJobEnd":
            for job in jobs:
                if job["job"] == event["Job ID"]:
                    job["ms"] = event["Completion Time"] - job["submitted"]
        elif kind == "SparkListenerStageCompleted":
            info = event["Stage Info"]
            if "Submission Time" in info:
                stages.setdefault(info["Stage ID"], {"tasks": []}).update(
                    name=info["Stage Name"], ms=info["Completion Time"] - info["Submission Time"],
                    submitted=info["Submission Time"])
        elif kind == "SparkListenerTaskEnd":
            task, metrics = event["Task Info"], event.get("Task Metrics") or {}
            stages.setdefault(event["Stage ID"], {"tasks": []})["tasks"].append({
                "ms": task["Finish Time"] - task["Launch Time"],
                "run_ms": metrics.get("Executor Run Time", 0),
                "deserialize_ms": metrics.get("Executor Deserialize Time", 0),
                "cpu_ms": metrics.get("Executor CPU Time", 0) // 1_000_000,  # logged in nanoseconds
            })
    for job in jobs:
        job["stages"] = [dict(stages[s], stage=s) for s in job["stages"] if s in stages and "ms" in stages[s]]
    return {"app_ms": app.get("end", 0) - app.get("start", 0), "jobs": jobs}


def describe(found: dict[str, Any]) -> str:
    lines = [f"application {found['app_ms']} ms"]
    for job in found["jobs"]:
        lines.append(f"  job {job['job']}: {job.get('ms', '?')} ms {job['description'][:60]}")
        for stage in job["stages"]:
            tasks = ", ".join(f"{t['ms']} ({t.get('cpu_ms', '?')} CPU)" for t in stage["tasks"])
            lines.append(f"    stage {stage['stage']}: {stage['ms']} ms, {len(stage['tasks'])} tasks ({tasks} ms)")
    return "\n".join(lines)


if __name__ == "__main__":
    print(describe(profile(Path(sys.argv[1]))))

"""`kos status [--json]`: each stage of the pipeline, however it was started (`kos run`, the DAG, by hand).

What it reads, never a process's memory:

- each job's checkpoint (``[spark] checkpoint_dir/<job>``): its last committed batch, and the Kafka offsets that
  batch reached; the topic's end offsets from Kafka: the lag, records not processed yet;
- each query's status file beside its checkpoint (``<job>.status.json``, written by jobs/job.py when it starts,
  after every batch, and by its supervisor in jobs/continuous.py): its pid, Spark UI, state, restarts, last error,
  last batches;
- the shipper's checkpoints and the files they name: the bytes not shipped yet, per file;
- `kos run`'s state (``<state_dir>/run/state.json``): the shipper's restarts; with ``[alerts] alertmanager_url``,
  its notifier's (``<state_dir>/run/alertmanager.json``): the storm updates Alertmanager has not accepted yet.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from kos.config import Config
from kos.summary import status_path
from kos.text import printable, show_path
from kosctl.alertmanager import saved, state_path

__all__ = ["committed_offsets", "job_status", "main", "status"]

JOBS = ("transform", "load", "live")


def job_status(cfg: Config, job: str) -> dict[str, Any] | None:
    """What the job wrote about itself beside its checkpoint, or None."""
    try:
        return json.loads(status_path(cfg.path(cfg.spark.checkpoint_dir), job).read_text())  # type: ignore
    except (OSError, ValueError):
        return None


def committed_offsets(checkpoint: Path) -> tuple[int | None, float | None, dict[str, dict[int, int]]]:
    """The last committed batch of a Spark checkpoint, when it was committed, and the Kafka offsets it reached
    (topic -> partition -> next offset to read)."""
    commits = checkpoint / "commits"
    batches = sorted((int(p.name) for p in commits.iterdir() if p.name.isdigit()), reverse=True) \
        if commits.is_dir() else []
    for batch in batches:
        try:
            lines = (checkpoint / "offsets" / str(batch)).read_text().splitlines()
        except OSError:
            continue
        offsets: dict[str, dict[int, int]] = {}
        for line in lines[2:]:
            try:
                source = json.loads(line)
            except ValueError:
                continue
            if isinstance(source, dict):
                for topic, parts in source.items():
                    offsets[topic] = {int(p): int(o) for p, o in parts.items()}
        return batch, (commits / str(batch)).stat().st_mtime, offsets
    return None, None, {}


def _end_offsets(cfg: Config, topics: set[str]) -> dict[str, dict[int, int]] | str:
    """Each topic's end offsets, or why they could not be read."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    from kos.kafka_client import python_settings

    try:
        consumer = KafkaConsumer(**python_settings(cfg), group_id=None, enable_auto_commit=False,
                                 request_timeout_ms=5000)
    except KafkaError as exc:
        return f"Kafka at {', '.join(cfg.kafka.bootstrap_servers)} does not answer ({exc})"
    try:
        ends: dict[str, dict[int, int]] = {}
        for topic in topics:
            parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
            ends[topic] = {tp.partition: o for tp, o in consumer.end_offsets(parts).items()} if parts else {}
        return ends
    except KafkaError as exc:
        return f"Kafka at {', '.join(cfg.kafka.bootstrap_servers)} does not answer ({exc})"
    finally:
        consumer.close()


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _shipper(cfg: Config) -> dict[str, Any]:
    """Per followed file: how far its checkpoint got and how many bytes are behind."""
    from shipper.checkpoint import CheckpointStore

    files = []
    store = CheckpointStore(cfg.path(cfg.shipper.checkpoint_dir))
    latest = None
    for done in store.load_all():
        behind: int | None = None
        try:
            fd = os.open(done.path, os.O_RDONLY)
        except OSError:
            pass  # gone, for now: a rotation in progress, or no longer watched
        else:
            try:
                size = os.fstat(fd).st_size
                # After a rotation the name holds a new file, none of which is shipped yet.
                behind = max(0, size - done.offset) if done.identity.same_file(fd) else size
            finally:
                os.close(fd)
        files.append({"path": show_path(done.path), "shipped_to": done.offset, "bytes_behind": behind})
    checkpoints = list(store.directory.glob("*.json")) if store.directory.is_dir() else []
    if checkpoints:
        latest = max(p.stat().st_mtime for p in checkpoints)
    return {"files": files, "last_checkpoint": latest}


def status(cfg: Config) -> list[dict[str, Any]]:
    """One entry per stage: shipper, transform, load, live."""
    now = time.time()
    run: dict[str, Any] = {}
    try:
        run = json.loads((cfg.state_dir / "run" / "state.json").read_text())
    except (OSError, ValueError):
        pass
    supervised = {p["name"]: p for p in run.get("processes", [])} if _alive(run.get("pid")) else {}
    sources = {"transform": cfg.kafka.raw_topic, "load": cfg.kafka.parsed_topic, "live": cfg.kafka.parsed_topic}
    checkpoints = {job: committed_offsets(cfg.path(cfg.spark.checkpoint_dir) / job) for job in JOBS}
    ends = _end_offsets(cfg, set(sources.values()))
    entries = []
    shipper = _shipper(cfg)
    s = supervised.get("shipper", {})
    behind = [f["bytes_behind"] for f in shipper["files"] if f["bytes_behind"] is not None]
    entries.append({
        "stage": "shipper", "state": s.get("state") or "not supervised", "pid": s.get("pid"),
        "uptime_s": round(now - s["started"]) if s.get("started") and s.get("state") == "running" else None,
        "restarts": s.get("restarts", 0), "last_batch": shipper["last_checkpoint"], "rows": None, "rate": None,
        "lag": sum(behind) if behind else 0, "lag_unit": "bytes", "files": shipper["files"], "ui": None})
    for job in JOBS:
        own = job_status(cfg, job) or {}
        batch, committed_at, offsets = checkpoints[job]
        topic = sources[job]
        lag: int | str | None
        if isinstance(ends, str):
            lag = ends
        elif batch is None:
            lag = sum(ends.get(topic, {}).values())
        else:
            reached = offsets.get(topic, {})
            lag = sum(max(0, end - reached.get(p, 0)) for p, end in ends.get(topic, {}).items())
        running = _alive(own.get("pid"))
        recent = own.get("batches", [])
        entries.append({
            "stage": job, "state": own.get("state", "running") if running else "stopped",
            "pid": own.get("pid") if running else None,
            "uptime_s": round(now - own["started"]) if running and own.get("started") else None,
            "restarts": own.get("restarts", 0) if running else 0, "last_error": own.get("last_error", ""),
            "last_batch": committed_at, "batch": batch,
            "rows": recent[-1]["rows"] if recent else None,
            "rate": round(recent[-1]["input_rate"], 1) if recent and running else None,
            "lag": lag, "lag_unit": "records", "ui": own.get("ui") if running else None,
            "totals": own.get("totals", {}) if running else {}})
    return entries


def _ago(moment: float | None) -> str:
    return "-" if moment is None else f"{time.time() - moment:.0f} s ago"


def delivery(cfg: Config) -> dict[str, Any] | None:
    """What the Alertmanager notifier of `kos run` last wrote (kosctl/alertmanager.py), or None if none is set."""
    if not cfg.alerts.alertmanager_url:
        return None
    said = saved(state_path(cfg))
    return {"stage": "alertmanager", "url": cfg.alerts.alertmanager_url, "undelivered": said.get("undelivered", 0),
            "last_error": said.get("last_error", ""), "delivered": len(said.get("delivered", {}))}


def main(cfg: Config, as_json: bool) -> int:
    entries = status(cfg)
    alerts = delivery(cfg)
    if as_json:
        print(json.dumps(entries + ([alerts] if alerts else []), indent=1))
        return 0
    print(f"{'stage':<10} {'state':<15} {'pid':>7} {'uptime':>8} {'restarts':>8} {'last batch':>12} {'rows':>7} "
          f"{'rows/s':>8}  lag")
    for e in entries:
        lag = e["lag"] if isinstance(e["lag"], str) else f"{e['lag']} {e['lag_unit']}"
        print(f"{e['stage']:<10} {e['state']:<15} {e['pid'] or '-':>7} "
              f"{(str(e['uptime_s']) + ' s') if e['uptime_s'] is not None else '-':>8} {e['restarts']:>8} "
              f"{_ago(e['last_batch']):>12} {e['rows'] if e['rows'] is not None else '-':>7} "
              f"{e['rate'] if e['rate'] is not None else '-':>8}  {printable(lag)}"
              + (f"  UI {e['ui']}" if e.get("ui") else ""))
        if e.get("last_error") and e["state"] != "running":
            print(f"{'':<10} last error: {printable(e['last_error'])}")
        for f in e.get("files", []):
            behind = "file gone" if f["bytes_behind"] is None else f"{f['bytes_behind']} bytes behind"
            print(f"{'':<10} {f['path']}: shipped to byte {f['shipped_to']}, {behind}")
    if alerts:
        print(f"alerts to Alertmanager at {printable(alerts['url'])}: {alerts['delivered']} storms delivered, "
              f"{alerts['undelivered']} updates not delivered yet"
              + (f" ({printable(alerts['last_error'])})" if alerts["last_error"] else ""))
    return 0

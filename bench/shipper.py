"""Shipper benchmark: `kos-shipper --once` on a generated 1,000,000-line syslog, next to `kcat -P -l`.

    python bench/shipper.py [--lines 1000000] [--repeat 5] [--lines-per-record 256]

Each run ships the whole file into a fresh topic on the local broker (`kos stack start`);
the tools take turns, run by run, and every run's topic is read back: its lines (a shipper record holds
up to ``lines_per_record`` lines joined by newlines, a kcat record one line) must be the file's lines,
each once, byte for byte (count, bytes and a checksum over the lines); the benchmark fails otherwise.
Reports median and spread of lines/s and MB/s (from the process's wall time, start-up included, and
from the shipper's own clock), CPU seconds (user + system, all threads), peak RSS, and the ratios to kcat.
Results: out/bench/shipper.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from functools import partial
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent

from fixtures import ScratchTopics  # noqa: E402

from kos import config as kos_config  # noqa: E402
from kos.kafka_client import python_settings, read_to_end  # noqa: E402


def lines_digest(lines) -> tuple[int, int, int]:
    """Lines, bytes (each with its newline) and the sum of their CRC-32s: the same for any order of the lines."""
    count = size = crc = 0
    for line in lines:
        count += 1
        size += len(line) + 1
        crc += zlib.crc32(line)
    return count, size, crc


def topic_lines(cfg: kos_config.Config, topic: str):
    for record in read_to_end(python_settings(cfg), topic):
        yield from record.value.split(b"\n")


def peak_rss_kib(pid: int, done: threading.Event, found: list[int]) -> None:
    """Polls the process's own high-water mark (``VmHWM``) until it ends. Not ``ru_maxrss``: that counts the
    pages of the forking benchmark process a child had before its exec, so every tool looks as big as this
    process."""
    while not done.is_set():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return
        match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
        if match:
            found[0] = max(found[0], int(match.group(1)))
        done.wait(0.005)


def run(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds (user + system, all threads), peak RSS in KiB, and stdout of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    done, peak = threading.Event(), [0]
    sampler = threading.Thread(target=peak_rss_kib, args=(proc.pid, done, peak), daemon=True)
    sampler.start()
    out = proc.stdout.read().decode() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    done.set()
    sampler.join()
    wall = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{argv[0]} failed (status {status})")
    return wall, usage.ru_utime + usage.ru_stime, peak[0], out


def summarise(name: str, samples: list[dict[str, float]], lines: int, size: int) -> dict[str, object]:
    walls = [s["wall"] for s in samples]
    own = [s["own"] for s in samples]
    wall = statistics.median(walls)
    return {
        "tool": name,
        "runs": len(samples),
        "wall_s_median": round(wall, 3),
        "wall_s_spread": round(max(walls) - min(walls), 3),
        "cpu_s_median": round(statistics.median(s["cpu"] for s in samples), 3),
        "lines_per_s": round(lines / wall),
        "mb_per_s": round(size / wall / 1e6, 1),
        "lines_per_s_own_clock": round(lines / statistics.median(own)) if all(own) else None,
        "peak_rss_mib": round(max(s["rss"] for s in samples) / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--lines-per-record", default="256", help="comma-separated values to compare")
    args = parser.parse_args()

    cfg = kos_config.load()
    out_dir = cfg.project_dir / "out" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    data = out_dir / f"syslog-{args.lines}.log"
    if not data.exists():
        subprocess.run([sys.executable, "-m", "kosctl.synthetic", str(data), "--lines",
                        str(args.lines)], check=True)
    size = data.stat().st_size
    with open(data, "rb") as f:
        expected = lines_digest(line.rstrip(b"\n") for line in f)

    def check(tool: str, topic: str) -> None:
        found = lines_digest(topic_lines(cfg, topic))
        if found != expected:
            raise SystemExit(f"{tool}: topic {topic} holds {found[0]} lines, {found[1]} bytes (checksum {found[2]}); "
                             f"the file {expected[0]} lines, {expected[1]} bytes (checksum {expected[2]})")
        topics.drop([topic])
    bootstrap = ",".join(cfg.kafka.bootstrap_servers)

    topics = ScratchTopics(cfg)

    def fresh_topic() -> str:
        return topics.new("raw")

    def kos_run(lpr: int) -> dict[str, float]:
        cp = out_dir / "checkpoints" / uuid.uuid4().hex
        env = dict(os.environ, KOS_SHIPPER_LINES_PER_RECORD=str(lpr))
        topic = fresh_topic()
        wall, cpu, rss, out = run([sys.executable, "-m", "shipper", "--once", "--no-progress", "--path", str(data),
                                   "--topic", topic, "--checkpoint-dir", str(cp)], env)
        match = re.search(r"(\d+) lines, \d+ bytes, \d+ records in ([\d.]+) s", out)
        if not match or int(match.group(1)) != args.lines:
            raise SystemExit(f"the shipper did not ship every line: {out.strip()}")
        check(f"kos-shipper lines_per_record={lpr}", topic)
        return {"wall": wall, "cpu": cpu, "own": float(match.group(2)), "rss": rss}

    def kcat_run() -> dict[str, float]:
        topic = fresh_topic()
        wall, cpu, rss, _ = run(["kcat", "-P", "-l", "-b", bootstrap, "-t", topic, "-X",
                                 "compression.codec=lz4", "-X", "acks=all", "-X", "enable.idempotence=true", str(data)])
        check("kcat", topic)
        return {"wall": wall, "cpu": cpu, "own": 0.0, "rss": rss}

    # Side by side: each round runs every tool once, so drift of the machine or the broker hits all alike.
    tools: dict[str, Callable[[], dict[str, float]]] = {
        f"kos-shipper lines_per_record={lpr}": partial(kos_run, lpr)
        for lpr in [int(x) for x in args.lines_per_record.split(",")]}
    tools["kcat -P -l (librdkafka)"] = kcat_run
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in tools}
    with topics:
        for tool in tools.values():
            tool()  # warm-up (page cache, broker)
        for _ in range(args.repeat):
            for name, tool in tools.items():
                samples[name].append(tool())
    results = [summarise(name, runs, args.lines, size) for name, runs in samples.items()]
    kcat = results[-1]

    header = (f"{'tool':42} {'lines/s':>10} {'MB/s':>7} {'own clock':>10} {'wall s':>7} {'spread':>7} {'CPU s':>6} "
              f"{'RSS MiB':>8} {'wall/kcat':>9} {'CPU/kcat':>8}")
    print(f"{args.lines:,} lines, {size / 1e6:.1f} MB, {args.repeat} runs each side by side, medians")
    print(header)
    for r in results:
        own = f"{r['lines_per_s_own_clock']:,}" if r["lines_per_s_own_clock"] else "-"
        r["wall_vs_kcat"] = round(r["wall_s_median"] / kcat["wall_s_median"], 2)  # type: ignore[operator]
        r["cpu_vs_kcat"] = round(r["cpu_s_median"] / kcat["cpu_s_median"], 2)  # type: ignore[operator]
        print(f"{r['tool']:42} {r['lines_per_s']:>10,} {r['mb_per_s']:>7} {own:>10} {r['wall_s_median']:>7} "
              f"{r['wall_s_spread']:>7} {r['cpu_s_median']:>6} {r['peak_rss_mib']:>8} {r['wall_vs_kcat']:>9} "
              f"{r['cpu_vs_kcat']:>8}")
    (out_dir / "shipper.json").write_text(json.dumps({"lines": args.lines, "bytes": size, "results": results},
                                                     indent=2))
    print(f"written to {out_dir / 'shipper.json'}")


if __name__ == "__main__":
    main()

"""Synthetic syslog files, seeded: realistic ones (classic or RFC 3339 timestamps) for benchmarks and tests.

    python -m kosctl.synthetic OUT --lines 1000000 [--events 0.02] [--seed 1] [--rfc3339] [--start 2026-03-01T00:00]
    python -m kosctl.synthetic OUT --lines 1000000 --random-bytes [--seed 1]
    python -m kosctl.synthetic OUT --lines 1000000 --mixed [--events 0.1] [--seed 1]

``--mixed``: every kind of line the transform sorts out, in proportions a benchmark notices: a third of
the lines with RFC 3339 timestamps at various offsets, the rest classic; among the candidates, besides
the events, lines that hold a marker but are no event, lines whose classic time does not exist and
lines without a syslog header (both dead letters, one in two hundred candidates each).

``--random-bytes``: lines of random bytes (NULs, invalid UTF-8, escape sequences; a 1 MiB line every
250,000 lines and as line 7), none of them a candidate (no byte ``S``), but for line i with i % 100 == 0,
a start event (service ``Random Probe i``), and i % 100 == 50, a candidate whose time does not exist
(a dead letter).
"""

from __future__ import annotations

import argparse
import random
from datetime import datetime, timedelta

HOSTS = ["web-01", "db-02", "dell-Inspiron-15-3567", "vm-alarm", "build.lab.example.com"]
SERVICES = ["Locale Service", "Hostname Service", "Daily apt download activities", "Clean php session files",
            "Session 42 of user alice", "ssh.service - OpenBSD Secure Shell server", "Journal Service",
            "Network Manager Script Dispatcher Service", "Cleanup of Temporary Directories"]
DBUS = ["org.freedesktop.hostname1", "org.freedesktop.locale1", "org.gtk.vfs.Metadata", "org.freedesktop.timedate1"]
NOISE = [
    ("sshd", "Accepted publickey for alice from 10.0.0.{n} port {p} ssh2: RSA SHA256:abcdefghijklmnop"),
    ("kernel", "[{n}.{p}] IPv4: martian source 10.0.0.{n} from 10.0.0.1, on dev eth0"),
    ("CRON", "(root) CMD (   cd / && run-parts --report /etc/cron.hourly)"),
    ("systemd", "Starting Daily apt upgrade and clean activities..."),
    ("NetworkManager", "<info>  [{n}.{p}] dhcp4 (eth0): state changed bound -> bound"),
    ("rsyslogd", "action 'action-1-builtin:omfile' resumed (module 'builtin:omfile') [v8.2302.0]"),
    ("postfix/qmgr", "{p}A{n}: from=<root@localhost>, size={p}, nrcpt=1 (queue active)"),
]


OFFSETS = [timedelta(0), timedelta(hours=2), timedelta(hours=-5), timedelta(hours=5, minutes=30)]


def _rfc3339(t: datetime, offset: timedelta) -> str:
    local = t + offset
    if not offset:
        return local.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    sign, size = ("+" if offset >= timedelta(0) else "-"), abs(offset)
    return local.strftime("%Y-%m-%dT%H:%M:%S.%f") + f"{sign}{size.seconds // 3600:02d}:{size.seconds % 3600 // 60:02d}"


def lines(count: int, events: float, seed: int, rfc3339: bool, start: datetime = datetime(2026, 3, 1),
          mixed: bool = False, hosts: int = 0, days: float = 0):
    """``count`` lines from ``start`` (UTC) on, 0 to 40 ms apart (with ``days``, spread over that many days); from
    the five hosts of ``HOSTS`` (with ``hosts``, that many, the first busier than the next: host i is picked in
    proportion to 1 / (i + 1))."""
    rng = random.Random(seed)
    t = start
    names = [*HOSTS, *(f"host-{i:03d}" for i in range(len(HOSTS), hosts))][:hosts] if hosts else HOSTS
    weights = [1 / (i + 1) for i in range(len(names))]
    gap = days * 86400 / count if days else 0
    for _ in range(count):
        t += timedelta(seconds=rng.uniform(0, 2 * gap)) if gap else timedelta(milliseconds=rng.randint(0, 40))
        host = rng.choices(names, weights)[0] if hosts else rng.choice(HOSTS)
        if mixed and rng.random() < 1 / 3:
            stamp = _rfc3339(t, rng.choice(OFFSETS))
        elif rfc3339:
            stamp = t.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
        else:
            stamp = f"{t:%b} {t.day:2d} {t:%H:%M:%S}"
        if mixed and rng.random() < events * 0.03:
            kind = rng.random()
            if kind < 1 / 6:
                yield f"{t:%b} {t.day:2d} 25:{t:%M:%S} {host} systemd[1]: Started {rng.choice(SERVICES)}."
            elif kind < 2 / 6:
                yield f"Started {rng.choice(SERVICES)} (a line without a syslog header)"
            else:
                yield f"{stamp} {host} CRON[{rng.randint(100, 99999)}]: (root) job Started by anacron"
            continue
        if rng.random() < events:
            if rng.random() < 0.7:
                yield f"{stamp} {host} systemd[1]: Started {rng.choice(SERVICES)}."
            else:
                pid = rng.randint(300, 9000)
                yield (f"{stamp} {host} dbus-daemon[{pid}]: [system] Successfully activated service "
                       f"'{rng.choice(DBUS)}'")
        else:
            tag, msg = rng.choice(NOISE)
            yield f"{stamp} {host} {tag}[{rng.randint(100, 99999)}]: " + msg.format(n=rng.randint(1, 254),
                                                                                    p=rng.randint(1000, 65000))


def random_lines(count: int, seed: int):
    rng = random.Random(seed)
    allowed = bytes(b for b in range(256) if b not in b"\nS")
    for i in range(count):
        if i % 100 == 0:
            yield f"2026-05-01T08:00:00.{i % 1_000_000:06d}Z host systemd[1]: Started Random Probe {i}.".encode()
        elif i % 100 == 50:
            yield f"2026-13-45T99:00:00Z host systemd[1]: Started Impossible {i}.".encode()
        else:
            size = 1 << 20 if i == 7 or i % 250_000 == 7 else rng.randint(0, 300)
            yield bytes(rng.choices(allowed, k=size))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out")
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--events", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rfc3339", action="store_true")
    parser.add_argument("--random-bytes", action="store_true")
    parser.add_argument("--mixed", action="store_true", help="RFC 3339 and classic times, dead letters, non-events")
    parser.add_argument("--start", type=datetime.fromisoformat, default=datetime(2026, 3, 1),
                        help="time of the first line, UTC (default 2026-03-01T00:00)")
    parser.add_argument("--hosts", type=int, default=0, help="this many hosts, some busier than others (default: 5)")
    parser.add_argument("--days", type=float, default=0, help="spread the lines over this many days")
    args = parser.parse_args()
    if args.random_bytes:
        with open(args.out, "wb") as binary:
            for raw in random_lines(args.lines, args.seed):
                binary.write(raw + b"\n")
        return
    with open(args.out, "w") as out:
        for line in lines(args.lines, args.events, args.seed, args.rfc3339, args.start, args.mixed, args.hosts,
                          args.days):
            out.write(line + "\n")


if __name__ == "__main__":
    main()

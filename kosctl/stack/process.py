"""Background service processes tracked by pid files: start once, stop cleanly, report status."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from kos.errors import KosError

__all__ = ["StackError", "describe", "port_open", "running_pid", "secret_file", "spawn", "terminate", "wait_until"]


class StackError(KosError):
    """A local service could not be started or stopped; the message says what to do."""


def running_pid(pid_file: Path) -> int | None:
    """The pid recorded in ``pid_file`` if that process is still alive."""
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    # A zombie (exited, not yet reaped) is not running.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return None
    return None if state == "Z" else pid


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def spawn(argv: Sequence[str], pid_file: Path, log_file: Path, env: dict[str, str] | None = None) -> int:
    """Start ``argv`` detached from this process, output to ``log_file``; record its pid."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    pid_file.write_text(f"{proc.pid}\n")
    return proc.pid


def wait_until(check: Callable[[], bool], timeout: float, what: str, alive: Callable[[], bool]) -> None:
    """Poll ``check`` until true; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if not alive():
            raise StackError(f"{what} exited during start-up")
        time.sleep(0.2)
    raise StackError(f"{what} did not become ready within {timeout:.0f} s")


def terminate(pid_file: Path, timeout: float = 30.0) -> bool:
    """SIGTERM the recorded process, SIGKILL it after ``timeout``; True if one was running."""
    pid = running_pid(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while running_pid(pid_file) is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    if running_pid(pid_file) is not None:
        os.kill(pid, signal.SIGKILL)
        while running_pid(pid_file) is not None:
            time.sleep(0.1)
    pid_file.unlink(missing_ok=True)
    return True


def describe(name: str, pid_file: Path, host: str, port: int, detail: str) -> str:
    """One status line: stopped, or running with its pid, address, readiness and ``detail``."""
    pid = running_pid(pid_file)
    if pid is None:
        return f"{name}: stopped"
    ready = "accepting connections" if port_open(host, port) else "starting"
    return f"{name}: running (pid {pid}) on {host}:{port}, {ready}; {detail}"


def secret_file(path: Path) -> str:
    """The secret kept in ``path``; a random one is written there (mode 0600) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(24) + "\n")
    return path.read_text().strip()

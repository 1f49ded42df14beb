"""Checkpoints: per watched path, the file identity and the offset below which Kafka acknowledged everything.

Written atomically (temporary file, fsync, rename, fsync of the folder), so a crash
leaves either the old or the new checkpoint, never a torn one.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from shipper.identity import FileIdentity


@dataclass(frozen=True)
class Checkpoint:
    path: str  # the watched path (the name, not the file: after a rotation the file lives elsewhere)
    identity: FileIdentity
    offset: int
    written_at: float = 0.0


class CheckpointStore:
    """One JSON file per watched path in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _file(self, path: str) -> Path:
        name = hashlib.sha256(path.encode()).hexdigest()[:16]
        return self.directory / f"{name}.json"

    def load(self, path: str) -> Checkpoint | None:
        try:
            data = json.loads(self._file(path).read_text())
        except FileNotFoundError:
            return None
        return Checkpoint(data["path"], FileIdentity.from_json(data["identity"]), int(data["offset"]),
                          float(data.get("written_at", 0.0)))

    def save(self, checkpoint: Checkpoint) -> Checkpoint:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamped = Checkpoint(checkpoint.path, checkpoint.identity, checkpoint.offset, time.time())
        target = self._file(checkpoint.path)
        tmp = target.with_suffix(".tmp")
        payload = json.dumps({
            "path": stamped.path,
            "identity": stamped.identity.to_json(),
            "offset": stamped.offset,
            "written_at": stamped.written_at,
        }).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return stamped

"""Checkpoints: per watched path, the file identity and the offset below which Kafka acknowledged everything.

Written atomically (temporary file, fsync, rename, fsync of the folder), so a crash
leaves either the old or the new checkpoint, never a torn one. A checkpoint that cannot
be read is never taken as "no checkpoint": starting over would ship the whole file again.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from kos.text import show_path
from shipper.errors import ShipperError
from shipper.identity import FileIdentity

__all__ = ["Checkpoint", "CheckpointStore"]


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

    def prepare(self) -> None:
        """Make sure checkpoints can be kept: the folder exists (or is made) and is writable."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ShipperError(f"cannot keep checkpoints in {show_path(str(self.directory))}: "
                               f"{exc.strerror}") from None
        if not os.access(self.directory, os.W_OK | os.X_OK):
            raise ShipperError(f"cannot keep checkpoints in {show_path(str(self.directory))}: permission denied")

    def file(self, path: str) -> Path:
        """Where the checkpoint of ``path`` lives (named by a hash of the path's bytes)."""
        name = hashlib.sha256(os.fsencode(path)).hexdigest()[:16]
        return self.directory / f"{name}.json"

    def load(self, path: str) -> Checkpoint | None:
        """The checkpoint of ``path``; None if it has none. ShipperError if it has one that cannot be read."""
        return self._read(self.file(path), path)

    def load_all(self) -> list[Checkpoint]:
        """Every checkpoint in the folder, whatever path it is for."""
        return [found for target in sorted(self.directory.glob("*.json")) if (found := self._read(target))]

    def _read(self, target: Path, path: str | None = None) -> Checkpoint | None:
        """The checkpoint in ``target``: of ``path``, or of the path it names itself."""
        of = "" if path is None else f" of {show_path(path)}"
        try:
            data = json.loads(target.read_bytes())
            if path is None:
                path = os.fsdecode(base64.b64decode(data["path_b64"], validate=True))
            identity = FileIdentity.from_json(data["identity"])
            offset = int(data["offset"])
            written_at = float(data.get("written_at", 0.0))
            if offset < 0:
                raise ValueError("negative offset")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ShipperError(f"cannot read the checkpoint {show_path(str(target))}{of}: {exc.strerror}") from None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ShipperError(
                f"the checkpoint {show_path(str(target))}{of} is corrupt ({type(exc).__name__}); "
                "the shipper will not guess where to resume: restore it, or delete it to ship the file again from "
                "its start (lines sent before are sent again and stored once downstream)") from None
        return Checkpoint(path, identity, offset, written_at)

    def save(self, checkpoint: Checkpoint) -> Checkpoint:
        stamped = Checkpoint(checkpoint.path, checkpoint.identity, checkpoint.offset, time.time())
        raw = os.fsencode(stamped.path)
        payload = json.dumps({
            "path": raw.decode("utf-8", "backslashreplace"),  # to read; path_b64 is exact
            "path_b64": base64.b64encode(raw).decode(),
            "identity": stamped.identity.to_json(),
            "offset": stamped.offset,
            "written_at": stamped.written_at,
        }).encode()
        target = self.file(checkpoint.path)
        tmp = target.with_suffix(".tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
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
        except OSError as exc:
            raise ShipperError(f"cannot write the checkpoint {show_path(str(target))} of "
                               f"{show_path(checkpoint.path)}: {exc.strerror}") from None
        return stamped

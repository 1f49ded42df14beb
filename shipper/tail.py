"""Following one watched path through appends, rotations and truncations.

A ``FileTail`` hands out batches of records read from the oldest file of the path
that still has unshipped bytes, and moves its checkpoint only when told that a
batch was acknowledged. It holds the files it reads open, so a file renamed or
deleted by a rotation is still finished to its end.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from kos.text import show_path
from shipper.checkpoint import Checkpoint, CheckpointStore
from shipper.errors import ShipperError
from shipper.identity import FileIdentity, identify
from shipper.records import Record, cut_line, split_records

log = logging.getLogger(__name__)

SCAN_CHUNK = 1024 * 1024

__all__ = ["Batch", "FileTail", "ShipperError", "TailOptions"]


@dataclass
class Source:
    """One physical file being read: the path's current file, or a rotated one being finished."""

    fd: int
    identity: FileIdentity
    pos: int  # next byte to send; everything below was acknowledged at the last commit
    name: str  # where it was found, for messages
    rotated_at: float | None = None  # when a newer file took its name


@dataclass(frozen=True)
class Batch:
    identity: FileIdentity
    records: list[Record]
    end: int


@dataclass
class TailStats:
    lines: int = 0
    bytes: int = 0
    records: int = 0
    rotations: int = 0
    truncations: int = 0
    cut_lines: int = 0
    checkpoint_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class TailOptions:
    fingerprint_bytes: int = 1024
    lines_per_record: int = 256
    max_line_bytes: int = 1024 * 1024
    max_record_bytes: int = 256 * 1024
    rotate_grace_seconds: float = 1.0


class FileTail:
    """Ship one watched path (for example ``/var/log/syslog``) and its rotated predecessors."""

    def __init__(
        self,
        path: str,
        rotated: Sequence[str],
        store: CheckpointStore,
        options: TailOptions,
        start_from: str = "beginning",
    ) -> None:
        self.path = path
        self.rotated = [pattern.format(path=path) for pattern in rotated]  # newest first
        self.store = store
        self.options = options
        self.stats = TailStats()
        self.sources: list[Source] = []  # oldest first; sources[0] is being read
        self._resume(store.load(path), start_from)

    # -- start-up -------------------------------------------------------------------------

    def _resume(self, checkpoint: Checkpoint | None, start_from: str) -> None:
        fd = self._open(self.path)
        if checkpoint is None:
            if fd is not None:
                ident = identify(fd, self.options.fingerprint_bytes)
                pos = _last_line_end(fd) if start_from == "end" else 0
                self.sources.append(Source(fd, ident, pos, self.path))
                self._commit(ident, pos)
            return
        old = checkpoint.identity
        if fd is not None and old.same_file(fd):
            self.sources.append(Source(fd, old, checkpoint.offset, self.path))
            return
        if fd is not None and _inode(fd) == (old.dev, old.ino):
            # Same inode, other first bytes: truncated and rewritten while we were stopped.
            self.sources.append(Source(fd, old, checkpoint.offset, self.path))
            return
        # Renamed while we were stopped: find the old file among the rotated names, then read
        # every newer one from its start.
        found = self._find_rotated(old)
        if found is not None:
            name, rfd, newer = found
            log.info("%s was rotated while stopped; finishing %s from byte %d", show_path(self.path),
                     show_path(name), checkpoint.offset)
            self.stats.rotations += 1
            self.sources += [Source(rfd, old, checkpoint.offset, name, rotated_at=0.0), *newer]
        else:
            log.warning("%s: the file checkpointed at byte %d is gone (not found among %s); reading the current "
                        "file from its start", show_path(self.path), checkpoint.offset,
                        ", ".join(show_path(r) for r in self.rotated) or "no names")
        if fd is not None:
            self.sources.append(Source(fd, identify(fd, self.options.fingerprint_bytes), 0, self.path))
        if self.sources:
            self._commit(self.sources[0].identity, self.sources[0].pos)

    def _open(self, name: str) -> int | None:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except PermissionError:
            raise ShipperError(f"cannot read {show_path(name)}: permission denied (run as root or in group adm)"
                               ) from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise ShipperError(f"cannot read {show_path(name)}: too many levels of symbolic links") from None
            raise ShipperError(f"cannot read {show_path(name)}: {exc.strerror}") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise ShipperError(f"cannot ship {show_path(name)}: not a regular file")
        return fd

    def _find_rotated(self, identity: FileIdentity) -> tuple[str, int, list[Source]] | None:
        """The rotated name holding the file ``identity`` names, that file opened, and the files rotated after it
        (oldest first, each to be read from its start); None if no rotated name holds it."""
        newer: list[tuple[str, int]] = []
        found = None
        for name in self.rotated:  # newest first
            fd = self._open_rotated(name)
            if fd is None:
                continue
            if identity.same_file(fd):
                found = (name, fd)
                break
            newer.append((name, fd))
        if found is None:
            for _, fd in newer:
                os.close(fd)
            return None
        return (*found, [Source(fd, identify(fd, self.options.fingerprint_bytes), 0, name, rotated_at=0.0)
                         for name, fd in reversed(newer)])

    def _open_rotated(self, name: str) -> int | None:
        """A rotated name, if it is a file we can read: anything else there cannot be a file of ours."""
        try:
            return self._open(name)
        except ShipperError as exc:
            log.debug("not a rotated file of %s: %s", show_path(self.path), exc)
            return None

    # -- reading ---------------------------------------------------------------------------

    def next_batch(self, max_bytes: int, follow: bool) -> Batch | None:
        """The next records to send, or None when there is nothing complete to send now."""
        if not self.sources:
            fd = self._open(self.path)
            if fd is None:
                return None
            ident = identify(fd, self.options.fingerprint_bytes)
            self.sources.append(Source(fd, ident, 0, self.path))
            self._commit(ident, 0)
        while self.sources:
            src = self.sources[0]
            self._check_truncation(src)
            src = self.sources[0]
            batch = self._read(src, max_bytes)
            if batch is not None:
                return batch
            if len(self.sources) == 1:
                self._check_rotation(src)
            if len(self.sources) > 1 and self._finished(src, follow):
                last = self._final_partial_line(src)
                if last is not None:
                    return Batch(src.identity, [last], last.end)
                self._drop_head()
                continue
            return None
        return None

    def _read(self, src: Source, max_bytes: int) -> Batch | None:
        opts = self.options
        data = os.pread(src.fd, max_bytes, src.pos)
        if not data:
            return None
        records, used = split_records(data, src.pos, lines_per_record=opts.lines_per_record,
                                      max_line_bytes=opts.max_line_bytes, max_record_bytes=opts.max_record_bytes)
        if records:
            return Batch(src.identity, records, src.pos + used)
        if len(data) < max_bytes:
            return None  # only a partial last line: wait for its newline
        # A line longer than one read: find its end without holding it in memory.
        end = _find_newline(src.fd, src.pos + len(data))
        if end is None:
            return None
        head = os.pread(src.fd, min(end - src.pos, opts.max_line_bytes), src.pos)
        record = cut_line(head, end - src.pos, src.pos, opts.max_line_bytes)
        return Batch(src.identity, [record], record.end)

    def _final_partial_line(self, src: Source) -> Record | None:
        """A rotated-away file's last line without a newline: nobody will finish it, so ship it."""
        size = os.fstat(src.fd).st_size
        if size <= src.pos:
            return None
        length = size - src.pos
        head = os.pread(src.fd, min(length, self.options.max_line_bytes), src.pos)
        return cut_line(head, length, src.pos, self.options.max_line_bytes)

    # -- rotation and truncation ------------------------------------------------------------

    def _check_truncation(self, src: Source) -> None:
        size = os.fstat(src.fd).st_size
        if size >= src.pos and src.identity.same_content(src.fd):
            return
        self.stats.truncations += 1
        new = src.identity.next_generation(src.fd, self.options.fingerprint_bytes)
        log.warning("%s was truncated or rewritten (size %d, read up to %d); reading it again from byte 0",
                    show_path(src.name), size, src.pos)
        # copytruncate: the bytes we had not read yet may survive in the copy.
        copy = self._find_copy(src)
        self.sources[0] = Source(src.fd, new, 0, src.name, src.rotated_at)
        if copy is not None:
            self.sources.insert(0, copy)
        self._commit(self.sources[0].identity, self.sources[0].pos)

    def _find_copy(self, src: Source) -> Source | None:
        for name in self.rotated:
            fd = self._open_rotated(name)
            if fd is None:
                continue
            if os.fstat(fd).st_size > src.pos and src.identity.same_content(fd):
                log.info("finishing the unread tail of %s from its copy %s", show_path(src.name), show_path(name))
                return Source(fd, src.identity, src.pos, name, rotated_at=0.0)
            os.close(fd)
        return None

    def _check_rotation(self, src: Source) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return  # renamed, new file not created yet
        if (st.st_dev, st.st_ino) == _inode(src.fd):
            return
        fd = self._open(self.path)
        if fd is None:
            return
        self.stats.rotations += 1
        src.rotated_at = time.monotonic()
        # Rotated more than once since we last looked: the files in between are read whole, in order.
        found = self._find_rotated(src.identity)
        between = [] if found is None else found[2]
        if found is not None:
            os.close(found[1])
        self.stats.rotations += len(between)
        if between:
            log.info("%s was rotated %d times; finishing the old file, then reading %s and the new one from their "
                     "start", show_path(self.path), 1 + len(between), ", ".join(show_path(s.name) for s in between))
        else:
            log.info("%s was rotated; finishing the old file, then reading the new one from its start",
                     show_path(self.path))
        self.sources += [*between, Source(fd, identify(fd, self.options.fingerprint_bytes), 0, self.path)]

    def _finished(self, src: Source, follow: bool) -> bool:
        """A rotated-away file is done once read to its end (after a grace period for late writers)."""
        if not follow or src.rotated_at is None:
            return True
        return time.monotonic() - src.rotated_at >= self.options.rotate_grace_seconds

    def _drop_head(self) -> None:
        old = self.sources.pop(0)
        os.close(old.fd)
        nxt = self.sources[0]
        self._commit(nxt.identity, nxt.pos)

    # -- acknowledgements -------------------------------------------------------------------

    def acknowledged(self, batch: Batch, count: int | None = None) -> None:
        """Kafka acknowledged the first ``count`` records of ``batch`` (all by default): checkpoint past them.

        The rest will be read again by the next ``next_batch``.
        """
        src = self.sources[0]
        done = batch.records if count is None else batch.records[:count]
        if src.identity != batch.identity or not done:
            return
        end = batch.end if count is None else done[-1].end
        self.stats.bytes += end - src.pos
        src.pos = end
        for record in done:
            self.stats.lines += record.lines
            self.stats.cut_lines += 1 if record.cut else 0
        self.stats.records += len(done)
        self._commit(src.identity, src.pos)

    def _commit(self, identity: FileIdentity, offset: int) -> None:
        self.store.save(Checkpoint(self.path, identity, offset))
        self.stats.checkpoint_at = time.time()

    def lag_bytes(self) -> int:
        """Bytes written to this path's files and not yet acknowledged."""
        total = 0
        for src in self.sources:
            try:
                total += max(os.fstat(src.fd).st_size - src.pos, 0)
            except OSError:
                pass
        return total

    def close(self) -> None:
        for src in self.sources:
            os.close(src.fd)
        self.sources.clear()


def _inode(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def _find_newline(fd: int, start: int) -> int | None:
    """The offset of the first newline at or after ``start``, reading in chunks; None at end of file."""
    pos = start
    while True:
        chunk = os.pread(fd, SCAN_CHUNK, pos)
        if not chunk:
            return None
        found = chunk.find(b"\n")
        if found >= 0:
            return pos + found
        pos += len(chunk)


def _last_line_end(fd: int) -> int:
    """Where ``--from end`` starts: just after the last complete line."""
    size = os.fstat(fd).st_size
    start = max(size - SCAN_CHUNK, 0)
    tail = os.pread(fd, size - start, start)
    nl = tail.rfind(b"\n")
    return start + nl + 1 if nl >= 0 else start

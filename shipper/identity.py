"""File identity: device + inode + a fingerprint of the first bytes, plus a truncation generation.

Device and inode follow a file through a rename; the fingerprint tells a reused
inode from the file that had it before; the generation tells the content written
after a truncation from the content before it, so their byte offsets never collide.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace

__all__ = ["FileIdentity", "followed_key", "identify"]


@dataclass(frozen=True)
class FileIdentity:
    dev: int
    ino: int
    fp_len: int  # how many leading bytes the fingerprint covers (less than asked for on a small file)
    fp: str  # sha256 of those bytes, hex
    gen: int = 0

    @property
    def key(self) -> str:
        """The identity as it travels in each record's origin."""
        return f"{self.dev:x}-{self.ino:x}-{self.fp_len}-{self.fp[:16]}-{self.gen}"

    def same_file(self, fd: int) -> bool:
        """Whether ``fd`` is this file: same inode and still the same first bytes."""
        st = os.fstat(fd)
        return (st.st_dev, st.st_ino) == (self.dev, self.ino) and self.same_content(fd)

    def same_content(self, fd: int) -> bool:
        """Whether ``fd`` starts with the bytes this identity was fingerprinted on."""
        head = os.pread(fd, self.fp_len, 0)
        return len(head) == self.fp_len and _digest(head) == self.fp

    def next_generation(self, fd: int, fingerprint_bytes: int) -> FileIdentity:
        """The identity of the same inode after it was truncated or rewritten."""
        fresh = identify(fd, fingerprint_bytes)
        return replace(fresh, gen=self.gen + 1)

    def to_json(self) -> dict[str, object]:
        return {"dev": self.dev, "ino": self.ino, "fp_len": self.fp_len, "fp": self.fp, "gen": self.gen}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> FileIdentity:
        return cls(int(data["dev"]), int(data["ino"]), int(data["fp_len"]), str(data["fp"]), int(data["gen"]))  # type: ignore[call-overload]


def identify(fd: int, fingerprint_bytes: int) -> FileIdentity:
    """The identity of an open file, fingerprinted on up to ``fingerprint_bytes`` leading bytes."""
    st = os.fstat(fd)
    head = os.pread(fd, fingerprint_bytes, 0)
    return FileIdentity(st.st_dev, st.st_ino, len(head), _digest(head))


def followed_key(keys: Iterable[str], fd: int) -> str | None:
    """Of ``keys`` (records' origin files, as made by FileIdentity.key), the one naming the open file ``fd``:
    same device and inode, its first bytes still hashing to the key's fingerprint; of several (truncation
    generations), the newest, which holds the file's present content. None if none does."""
    st = os.fstat(fd)
    found: dict[int, str] = {}
    for key in keys:
        try:
            dev, ino, fp_len, fp, gen = key.split("-")
            if (st.st_dev, st.st_ino) != (int(dev, 16), int(ino, 16)):
                continue
            head = os.pread(fd, int(fp_len), 0)
            if fp and len(head) == int(fp_len) and _digest(head).startswith(fp):
                found[int(gen)] = key
        except ValueError:
            continue
    return found[max(found)] if found else None


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

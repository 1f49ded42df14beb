"""Fresh Kafka topics for one benchmark run, deleted when the run ends (or fails)."""

from __future__ import annotations

import uuid
from types import TracebackType

from kos.config import Config
from kos.stack.topics import delete_topics, ensure_topics


class ScratchTopics:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.names: list[str] = []

    def new(self, kind: str) -> str:
        name = f"kos-bench-{kind}-{uuid.uuid4().hex[:8]}"
        ensure_topics(self.cfg, [name])
        self.names.append(name)
        return name

    def __enter__(self) -> ScratchTopics:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        delete_topics(self.cfg, self.names)

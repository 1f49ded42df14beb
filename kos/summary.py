"""A stage's summary for the programs that run it: each stage's ``--summary FILE`` writes it as JSON when the
stage ends, ``kos pipeline`` reads it (and never the stage's printed lines)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["read_summary", "status_path", "write_summary"]


def write_summary(path: str | Path | None, summary: dict[str, Any]) -> None:
    """``summary`` as JSON into ``path`` (nothing when ``path`` is None), written whole or not at all."""
    if not path:
        return
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(json.dumps(summary, indent=1, default=str))
    partial.replace(target)


def read_summary(path: str | Path) -> dict[str, Any] | None:
    """The summary a stage wrote into ``path``, or None when it wrote none."""
    try:
        return json.loads(Path(path).read_text())  # type: ignore[no-any-return]
    except FileNotFoundError:
        return None


def status_path(checkpoint_dir: Path, job: str) -> Path:
    """Where a running job keeps what `kos status` shows of it: beside its checkpoint, as it belongs to that
    query (pid, Spark UI, its last batches)."""
    return checkpoint_dir / f"{job}.status.json"

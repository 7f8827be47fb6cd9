"""Job generators re-yielded for the GUI: progress lines only, so maps and pixels stay in the worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from camviewer.core.jobs import Progress, relay


def progress_only(job: Iterator[Progress], stage: str, offset: int = 0, total: int | None = None) -> Iterator[Progress]:
    """Progress lines without their payloads (maps stay in the worker), renumbered into one bar."""
    return relay(
        job,
        lambda event: Progress(offset + event.done, total or event.total, f"{stage}: {Path(str(event.message)).name}"),
    )

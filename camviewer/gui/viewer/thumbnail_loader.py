"""Thumbnails decoded off the GUI thread, only for the items the list actually paints, with a bounded cache.

The list asks for a thumbnail when it paints an item; the path goes on a newest-first queue (bounded,
so items scrolled past long ago are forgotten). One worker drains the queue: it decodes with the
engine's reader (same pixels as the viewer, same error reasons) and makes a small QImage. Pixmaps are
made from it on the GUI thread, the only thread allowed to create them, and kept in an LRU cache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator

import numpy as np
from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QImage, QPixmap

from camviewer.gui.jobs.registry import WorkerRegistry

THUMBNAIL_SIZE = 96
CACHE_ITEMS = 1500  # 96x96 RGB pixmaps: about 40 MB
QUEUE_LIMIT = 400


class RequestQueue:
    """Paths waiting for a thumbnail, newest first; shared between the GUI thread and the worker."""

    def __init__(self, limit: int = QUEUE_LIMIT) -> None:
        self._lock = threading.Lock()
        self._paths: OrderedDict[str, None] = OrderedDict()
        self._limit = limit

    def push(self, path: str) -> None:
        with self._lock:
            self._paths[path] = None
            self._paths.move_to_end(path)
            while len(self._paths) > self._limit:
                self._paths.popitem(last=False)  # the oldest request: scrolled past

    def pop(self) -> str | None:
        with self._lock:
            return self._paths.popitem(last=True)[0] if self._paths else None

    def clear(self) -> None:
        with self._lock:
            self._paths.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._paths)


def thumbnail_image(pixels: np.ndarray, size: int) -> QImage:
    """A QImage no larger than ``size`` (QImage is safe to build in a worker; QPixmap is not)."""
    from camviewer.core.images import to_uint8_rgb

    step = max(1, min(pixels.shape[0], pixels.shape[1]) // (2 * size))  # cheap decimation of big images first
    rgb = to_uint8_rgb(pixels[::step, ::step])
    height, width = rgb.shape[:2]
    image = QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return image.scaled(
        size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    ).copy()


def decode_thumbnails(queue: RequestQueue, size: int) -> Iterator[tuple[str, QImage | None, str | None]]:
    """Worker: (path, thumbnail, None) or (path, None, reason) until the queue is empty."""
    from camviewer.core.errors import ImageError
    from camviewer.core.images import read_image
    from camviewer.gui.volume.tasks import is_volume_key, preview

    while (path := queue.pop()) is not None:
        try:
            pixels = preview(path) if is_volume_key(path) else read_image(path).pixels
            yield path, thumbnail_image(pixels, size), None
        except ImageError as error:
            yield path, None, error.reason
        except (MemoryError, OSError, ValueError) as error:
            yield path, None, f"{type(error).__name__}: {error}"


class ThumbnailLoader(QObject):
    ready = Signal(object)  # a path (str) whose thumbnail or failure is known; object: names may not be UTF-8

    def __init__(
        self,
        registry: WorkerRegistry,
        size: int = THUMBNAIL_SIZE,
        cache_items: int = CACHE_ITEMS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._registry = registry
        self.size = size
        self._cache: OrderedDict[str, QPixmap] = OrderedDict()
        self._cache_items = cache_items
        self._failures: dict[str, str] = {}
        self._queue = RequestQueue()
        self._worker_running = False
        self._stopped = False

    def icon_size(self) -> QSize:
        return QSize(self.size, self.size)

    def pixmap(self, path: str) -> QPixmap | None:
        pixmap = self._cache.get(path)
        if pixmap is not None:
            self._cache.move_to_end(path)
        return pixmap

    def failure(self, path: str) -> str | None:
        return self._failures.get(path)

    def request(self, path: str) -> None:
        if path in self._cache or path in self._failures or self._stopped:
            return
        self._queue.push(path)
        if not self._worker_running:
            self._start_worker()

    def forget_requests(self) -> None:
        """A new folder: what was asked for the old one is no longer needed (the cache stays)."""
        self._queue.clear()

    def stop(self) -> None:
        self._stopped = True
        self._queue.clear()

    def busy(self) -> bool:
        """Thumbnails asked for and not yet decoded."""
        return self._worker_running or len(self._queue) > 0

    def cached_count(self) -> int:
        return len(self._cache)

    def _start_worker(self) -> None:
        self._worker_running = True
        self._registry.start(
            "Decoding thumbnails",
            decode_thumbnails,
            self._queue,
            self.size,
            background=True,
            yielded=self._on_decoded,
            finished=self._on_worker_finished,
        )

    def _on_decoded(self, item: tuple[str, QImage | None, str | None]) -> None:
        path, image, reason = item
        if image is None:
            self._failures[path] = reason or "unreadable"
        else:
            self._cache[path] = QPixmap.fromImage(image)
            while len(self._cache) > self._cache_items:
                self._cache.popitem(last=False)
        self.ready.emit(path)

    def _on_worker_finished(self) -> None:
        self._worker_running = False
        if len(self._queue) and not self._stopped:  # asked for while the worker was finishing
            self._start_worker()

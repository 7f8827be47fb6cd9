"""The viewer's state: which model, which image, which CAM options, and the one request in flight.

Requests supersede each other. Each new request (another image, model or CAM option) takes the next
ticket, its generation (:class:`~camviewer.gui.jobs.latest.Latest`), and cancels the previous one's
token. At most one view worker runs; a request made while it runs waits as *pending*, and a newer one
simply replaces it, so flipping fast through a folder never queues stale work. Anything a worker yields
with an old generation is dropped.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from camviewer.core.jobs import CancelToken
from camviewer.gui.jobs.latest import Latest
from camviewer.gui.jobs.registry import WorkerRegistry
from camviewer.gui.viewer import tasks
from camviewer.gui.viewer.state import ComputeOptions, covers
from camviewer.gui.volume.tasks import VolumeFrame


class ViewerSession(QObject):
    imageReady = Signal(object)  # tasks.ImageFrame, or a VolumeFrame for a volume
    explained = Signal(object, float)  # ExplainResult, seconds (0 when reused without computing)
    viewFailed = Signal(object)  # tasks.ViewFailed
    modelChanged = Signal(object)  # tasks.ModelReady
    busyChanged = Signal(bool)

    def __init__(self, registry: WorkerRegistry, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._registry = registry
        self.options = ComputeOptions()
        self.ready: tasks.ModelReady | None = None
        self.path: str | None = None
        self.frame: tasks.ImageFrame | None = None
        self.result = None  # ExplainResult for (path, model) at the options it was computed with
        self.unreadable: str | None = None  # the current path, if it could not be decoded: not retried
        self._generations = Latest()
        self._cancel: CancelToken | None = None
        self._running = False
        self._pending: tasks.ViewRequest | None = None

    # ------------------------------------------------------------------------------------ inputs
    @property
    def model(self):
        return self.ready.model if self.ready else None

    @property
    def busy(self) -> bool:
        return self._running

    def set_model(self, ready: tasks.ModelReady) -> None:
        self.ready, self.result = ready, None
        self.modelChanged.emit(ready)
        self._submit()

    def show_image(self, path: str | Path | None) -> None:
        self.path = None if path is None else str(path)
        self.frame, self.result, self.unreadable = None, None, None
        self._submit()

    def show_frame(self, frame: tasks.ImageFrame) -> None:
        """An image another session has already decoded (a comparison model explains the same image)."""
        self.path, self.frame, self.result, self.unreadable = frame.path, frame, None, None
        self._submit()

    def set_options(self, options: ComputeOptions) -> None:
        if options == self.options:
            return
        self.options = options
        if self.result is not None and covers(self.result, options, self._layer()):
            self.explained.emit(self.result, 0.0)  # the maps are already there: no engine call
        else:
            self._submit()

    def refresh(self) -> None:
        """Compute again (e.g. after an error was fixed by the user)."""
        self.result = None
        self._submit()

    # ---------------------------------------------------------------------------------- requests
    def _layer(self) -> str:
        return self.options.layer or (self.ready.auto_layer if self.ready else "")

    def _submit(self) -> None:
        generation = self._generations.next()
        if self._cancel is not None:
            self._cancel.cancel()
        self._cancel = None
        if self.path is None or self.path == self.unreadable:
            self._pending = None
            return
        explainable = self.ready is not None and bool(self.ready.layers)
        self._cancel = CancelToken()
        request = tasks.ViewRequest(
            generation,
            self.path,
            self.frame.image if self.frame else None,
            self.model if explainable else None,
            self.options.engine_methods(),
            self.options.engine_target(),
            self.options.layer,
            self._cancel,
        )
        if self._running:
            self._pending = request  # replaces any older pending request
        else:
            self._start(request)

    def _start(self, request: tasks.ViewRequest) -> None:
        self._running = True
        self.busyChanged.emit(True)
        self._registry.start(
            f"Explaining {Path(request.path).name}",
            tasks.view_image,
            request,
            cancel=request.cancel,
            background=True,
            yielded=self._on_yielded,
            finished=self._on_finished,
        )

    def _on_yielded(self, event) -> None:
        if not self._generations.is_current(event.generation):
            return  # superseded
        if isinstance(event, (tasks.ImageFrame, VolumeFrame)):
            self.frame = event
            self.imageReady.emit(event)
        elif isinstance(event, tasks.Explained):
            self.result = event.result
            self.explained.emit(event.result, event.seconds)
        else:
            if event.stage == "image":
                self.unreadable = event.path
            self.viewFailed.emit(event)

    def _on_finished(self) -> None:
        self._running = False
        pending, self._pending = self._pending, None
        if pending is not None and self._generations.is_current(pending.generation):
            self._start(pending)
        else:
            self.busyChanged.emit(False)

    def stop(self) -> None:
        """Cancel the current request and forget the pending one (closing)."""
        self._pending = None
        if self._cancel is not None:
            self._cancel.cancel()

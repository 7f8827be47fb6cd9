"""Fixtures and helpers for the GUI tests: tiny images, a tiny model, a window that is torn down cleanly.

Import the fixtures into a test module (``from gui_helpers import *``); they are not in conftest.py so
that core tests never import Qt.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QThreadPool, QTimer
from PySide6.QtWidgets import QMessageBox

from camviewer.gui.app.launch import make_application
from camviewer.gui.app.main_window import MainWindow
from camviewer.gui.common.settings import Settings

CLASSES = ["normal", "lesion"]
WAIT_MS = 20_000  # generous: the machine is shared; tests still finish as soon as the signal comes


def write_images(folder: Path, count: int, size: int = 64, prefix: str = "img") -> list[Path]:
    """Small RGB PNGs with a bright disc at a different place in each."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    yy, xx = np.mgrid[:size, :size]
    for index in range(count):
        pixels = (rng.random((size, size, 3)) * 80).astype(np.uint8)
        cx, cy = (8 + 7 * index) % size, (20 + 5 * index) % size
        pixels[(yy - cy) ** 2 + (xx - cx) ** 2 < 64] = (250, 60, 60)
        path = folder / f"{prefix}{index:02d}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def tiny_model():
    import torch

    from camviewer.core.model.card import ModelCard
    from camviewer.core.model.loading import new_model

    torch.manual_seed(0)
    card = ModelCard(
        arch="tinyvgg_gap", class_names=list(CLASSES), input_size=(32, 32), arch_options={"widths": [4, 8]}
    )
    return new_model(card, device="cpu")


def save_tiny_checkpoint(path: Path) -> Path:
    return tiny_model().save(path)


def save_bare_state_dict(path: Path) -> Path:
    import torch

    torch.save(tiny_model().module.state_dict(), path)
    return path


def python_threads() -> set[threading.Thread]:
    """Threads started from Python (Qt's pool threads appear as _DummyThread and are checked separately)."""
    return {t for t in threading.enumerate() if not isinstance(t, threading._DummyThread)}


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A private HOME and config folder: default export folders and settings land in tmp_path."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder / ".config"))
    return folder


@pytest.fixture
def settings(tmp_path, home) -> Settings:
    return Settings(tmp_path / "settings.ini")


@pytest.fixture
def no_dangling_work(qapp):
    """Fails a test that leaves worker threads or Python threads running behind it."""
    before = python_threads()
    yield
    pool = QThreadPool.globalInstance()
    assert pool.waitForDone(WAIT_MS), f"{pool.activeThreadCount()} pool thread(s) still busy after the test"
    extra = {t for t in python_threads() - before if t.is_alive()}
    for thread in extra:
        thread.join(timeout=5)
    assert not [t.name for t in extra if t.is_alive()], "threads left running"


def _unexpected_question(parent, title, text, *args, **kwargs):
    raise AssertionError(f"unexpected question {title!r}: {text}")  # a modal box would hang the test


@pytest.fixture
def make_window(qtbot, settings, no_dangling_work, monkeypatch):
    """Builds main windows; each is closed at the end and must stop all its workers.

    A question box the test did not expect fails the test (tests that expect one patch it again).
    """
    monkeypatch.setattr(QMessageBox, "question", _unexpected_question)
    make_application()
    windows: list[MainWindow] = []

    def make(settings_override: Settings | None = None) -> MainWindow:
        window = MainWindow(settings_override or settings)
        window.resize(1280, 800)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()
        qtbot.waitUntil(lambda w=window: len(w.registry) == 0 and not w.isVisible(), timeout=WAIT_MS)
        timers = [t for t in window.findChildren(QTimer) if t.isActive()]
        assert not timers, f"timers left running: {[(t.parent(), t.interval(), t.isSingleShot()) for t in timers]}"
        window.deleteLater()


@pytest.fixture
def images(tmp_path) -> list[Path]:
    return write_images(tmp_path / "images", 4)


@pytest.fixture
def checkpoint(tmp_path) -> Path:
    return save_tiny_checkpoint(tmp_path / "models" / "tiny.safetensors")


@pytest.fixture
def ready_window(qtbot, make_window, images, checkpoint) -> MainWindow:
    """A window with the tiny model loaded and the first image explained."""
    window = make_window()
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        window.start([str(images[0].parent)], str(checkpoint))
    wait_for_result(qtbot, window, images[0])
    return window


def wait_for_result(qtbot, window: MainWindow, path: Path | str | None = None) -> None:
    """Until the session holds a result (for ``path`` if given) and no request is pending."""

    def done() -> bool:
        result = window.session.result
        return result is not None and (path is None or Path(result.source) == Path(path)) and not window.session.busy

    qtbot.waitUntil(done, timeout=WAIT_MS)


class EngineSpy:
    """Wraps the engine's explain function: counts calls and records the thread each ran on."""

    def __init__(self, monkeypatch) -> None:
        from camviewer.core.explain import run

        self.calls = 0
        self.threads: set[int] = set()
        self.requests: list[tuple] = []
        original = run.explain_iter

        def spy(model, sources, methods=("gradcam",), target="pred", *args, **kwargs):
            self.calls += 1
            self.threads.add(threading.get_ident())
            self.requests.append((tuple(methods), target))
            yield from original(model, sources, methods, target, *args, **kwargs)

        monkeypatch.setattr(run, "explain_iter", spy)


# ------------------------------------------------------------------------- training, evaluation, trust

SYNTH_CLASSES = ["parasitized", "uninfected"]  # camviewer synth "cells": parasitized is the positive class


def synth_cells(folder: Path, n: int = 24, size: int = 32, seed: int = 0, shortcut: float = 0.0) -> Path:
    """A tiny `camviewer synth cells` dataset: <class>/*.png, masks/, roi/, boxes.csv, synth.json."""
    from camviewer.core.jobs import run_to_end
    from camviewer.core.synth import generate

    run_to_end(generate(folder, "cells", n, seed, size=size, shortcut=shortcut))
    return folder


def save_synth_checkpoint(path: Path, positive_class: str | None = "parasitized") -> Path:
    """An untrained tiny model whose classes are the synth cells' (so it can be fine-tuned on them)."""
    import torch

    from camviewer.core.model.card import ModelCard
    from camviewer.core.model.loading import new_model

    torch.manual_seed(0)
    card = ModelCard(
        arch="tinyvgg_gap",
        class_names=list(SYNTH_CLASSES),
        input_size=(32, 32),
        arch_options={"widths": [4, 8]},
        positive_class=positive_class,
    )
    return new_model(card, device="cpu").save(path)


def fill_training_form(panel, data: Path, run_dir: Path, epochs: int = 2, patience: int = 20) -> None:
    """Tiny and quick: TinyVGG-GAP with widths 4, 8 on 32 x 32 images, on the CPU."""
    form = panel.form
    form.arch.setCurrentText("tinyvgg_gap")
    form.arch_options.setText('{"widths": [4, 8]}')
    form.input_size.setValue(32)
    form.epochs.setValue(epochs)
    form.patience.setValue(patience)
    form.batch_size.setValue(6)
    form.lr.setValue(0.01)
    form.val_split.setValue(0.25)
    form.augment.setCurrentText("none")
    form.device.setCurrentText("cpu")
    panel.data.set_path(data, announce=False)
    panel.run_dir.setText(str(run_dir))

"""Start-up: no display, window before torch, the demo model and samples, command-line paths, settings."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from gui_helpers import WAIT_MS, save_tiny_checkpoint, wait_for_result, write_images

from camviewer.gui.app.launch import NO_DISPLAY, launch, parse_arguments
from camviewer.gui.common.settings import Settings

pytest_plugins = ["gui_helpers"]  # the GUI fixtures; kept out of conftest.py so core tests load no Qt
pytestmark = pytest.mark.usefixtures("no_dangling_work")  # every GUI test: no threads or workers left behind


def test_without_a_display_launch_says_so_in_one_line(monkeypatch, capsys):
    for variable in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert launch([]) == 1
    err = capsys.readouterr().err
    assert err == NO_DISPLAY + "\n" and "xvfb-run" in err


def test_the_window_paints_before_torch_is_imported(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        from PySide6.QtCore import QEvent, QObject, QTimer
        from camviewer.gui.app.launch import make_application, open_main_window

        class FirstPaint(QObject):
            seen = None
            def eventFilter(self, watched, event):
                if event.type() == QEvent.Type.Paint and self.seen is None:
                    self.seen = 'torch' in sys.modules
                    QTimer.singleShot(0, lambda: app.exit(0))  # quit() would close the window first
                return False

        app = make_application()
        probe = FirstPaint()
        app.installEventFilter(probe)
        window = open_main_window([], settings_path={str(tmp_path / "s.ini")!r})
        shown = 'torch' in sys.modules
        if probe.seen is None:  # offscreen Qt may paint during show(), before the event loop
            app.exec()
        print(shown, probe.seen)
        sys.stdout.flush()
        import os; os._exit(0)  # do not wait for the demo model still loading in its worker
    """)
    env = {"QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert run.stdout.split() == ["False", "False"], run.stdout + run.stderr


def test_first_launch_loads_the_demo_and_shows_the_first_sample(make_window, qtbot, tmp_path, monkeypatch):
    from camviewer.core import paths

    samples = write_images(tmp_path / "resources" / "samples", 2, prefix="sample")
    monkeypatch.setattr(paths, "resource_path", lambda *parts: tmp_path.joinpath("resources", *parts))
    monkeypatch.setattr(paths, "demo_model_path", lambda: tmp_path / "weights" / "demo.safetensors")
    window = make_window()
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        window.start()
    wait_for_result(qtbot, window, samples[0])
    card = window.session.model.card
    assert card.arch == "tinyvgg_gap" and card.class_names == ["parasitized", "uninfected"]
    assert card.input_size == (96, 96)
    assert window.session.ready.placeholder  # a flag, not a word to look for in the warning
    assert "untrained" in window.model_status.text()  # permanent in the status bar
    assert "UNTRAINED" in window.log.messages()
    assert window.model_panel.warning.isVisible()
    assert window.image_view.heat.image is not None


def test_the_demo_weights_are_used_when_present(make_window, qtbot, tmp_path, monkeypatch):
    from camviewer.core import paths

    demo = save_tiny_checkpoint(tmp_path / "weights" / "demo.safetensors")
    monkeypatch.setattr(paths, "demo_model_path", lambda: demo)
    monkeypatch.setattr(paths, "resource_path", lambda *parts: tmp_path.joinpath("no-resources", *parts))
    window = make_window()
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        window.start()
    assert window.session.model.card.input_size == (32, 32)
    assert not window.model_panel.warning.isVisible()
    assert not window.session.ready.placeholder and "untrained" not in window.model_status.text()
    assert window.image_view.message.isVisible()  # no samples: the hint to open a folder


def test_command_line_paths_open_instead_of_the_samples(make_window, qtbot, images, checkpoint):
    args = parse_arguments([str(images[2]), str(images[1]), "--model", str(checkpoint)])
    window = make_window()
    window.start(args.paths, args.model)
    wait_for_result(qtbot, window, images[2])
    assert window.browser.paths() == [str(images[2]), str(images[1])]


def test_settings_persist_between_sessions(make_window, qtbot, tmp_path, images, checkpoint):
    path = tmp_path / "persist.ini"
    first = make_window(Settings(path))
    with qtbot.waitSignal(first.session.modelChanged, timeout=WAIT_MS):
        first.start([str(images[0].parent)], str(checkpoint))
    wait_for_result(qtbot, first, images[0])
    first.cam_panel.opacity.setValue(70)
    first.cam_panel.set_method("layercam")
    first.cam_panel.colormap.setCurrentIndex(first.cam_panel.colormap.findData("inferno"))
    first.resize(1000, 700)
    first.close()
    qtbot.waitUntil(lambda: not first.isVisible(), timeout=WAIT_MS)

    reopened = Settings(path)
    assert (reopened.opacity, reopened.method, reopened.colormap) == (0.7, "layercam", "inferno")
    assert reopened.recent_models == (str(checkpoint),)
    assert not reopened.geometry.isEmpty() and not reopened.window_state.isEmpty()
    second = make_window(reopened)
    assert second.cam_panel.opacity.value() == 70
    assert second.image_view.heat.opacity() == 0.7
    assert second.cam_panel.compute.method == "layercam"
    assert Path(path).is_file() and "layercam" in Path(path).read_text()


def test_signal_emits_do_not_drain_true(qapp):
    """PySide6 6.12.0 returns True from emit() without a reference; make_application repairs that."""
    from PySide6.QtCore import QObject, Signal

    from camviewer.gui.app.launch import make_application

    make_application()

    class Sender(QObject):
        changed = Signal(str)

    sender = Sender()
    sender.changed.connect(lambda text: None)
    before = sys.getrefcount(True)
    for _ in range(5000):
        sender.changed.emit("x")
    assert abs(sys.getrefcount(True) - before) < 10  # without the repair: 5000 fewer

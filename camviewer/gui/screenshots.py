"""`python -m camviewer.gui.screenshots OUTDIR`: README screenshots of the real window, rendered offscreen.

Writes main.png (an image with its heatmap), compare.png (methods side by side) and model-dialog.png
(the questions asked for a bare state_dict). Uses the demo model and sample images, with settings in a
temporary folder so the user's own preferences are neither used nor changed.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SIZE = (1280, 800)
TIMEOUT_S = 120


def wait_until(condition: Callable[[], bool], timeout_s: float = TIMEOUT_S) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    poll = QTimer(interval=20)
    poll.timeout.connect(lambda: loop.quit() if condition() else None)
    deadline = QTimer(singleShot=True, interval=int(timeout_s * 1000))
    deadline.timeout.connect(loop.quit)
    poll.start()
    deadline.start()
    if not condition():
        loop.exec()
    poll.stop()
    deadline.stop()
    if not condition():
        raise TimeoutError("the window did not get there in time")


def settle(window, seconds: float = 0.3) -> None:
    """Let pending paints and layouts happen before grabbing."""
    end = time.monotonic() + seconds
    wait_until(lambda: time.monotonic() > end and not window.session.busy)


def sample_folder(scratch: Path) -> Path:
    """The bundled samples, or a few synthetic cell images if they are missing."""
    from camviewer.core.paths import sample_images

    samples = sample_images()
    if samples:
        return samples[0].parent
    import numpy as np
    from PIL import Image

    folder = scratch / "samples"
    folder.mkdir()
    yy, xx = np.mgrid[:128, :128]
    for index in range(4):
        cell = ((yy - 64) ** 2 + (xx - 64) ** 2 < 45**2)
        pixels = np.where(cell[..., None], [226, 160, 170], [240, 228, 226]).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"cell_{index}.png")
    return folder


def shoot(out: Path) -> list[Path]:
    from camviewer.gui.checkpoint_dialog import CheckpointDialog
    from camviewer.gui.launch import make_application
    from camviewer.gui.main_window import MainWindow
    from camviewer.gui.settings import Settings

    app = make_application()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as scratch:
        window = MainWindow(Settings(Path(scratch) / "settings.ini"))
        window.resize(*SIZE)
        window.show()
        folder = sample_folder(Path(scratch))
        window.start([str(folder)])
        wait_until(lambda: window.session.result is not None)
        paths = window.browser.paths()
        positive = next((i for i, p in enumerate(paths) if "parasitized" in Path(p).name), 0)
        window.browser.select(positive)
        wait_until(lambda: window.session.result is not None and window.session.result.source == paths[positive])
        window.cam_panel.opacity.setValue(45)
        window.cam_panel.outline.setCurrentIndex(window.cam_panel.outline.findData("contour"))
        settle(window)
        written.append(_save(window.grab(), out / "main.png"))

        window.cam_panel.set_compare("methods")
        wait_until(lambda: window.session.result is not None and len(window.compare_view.cells) > 1)
        settle(window)
        written.append(_save(window.grab(), out / "compare.png"))
        window.cam_panel.set_compare("off")

        dialog = CheckpointDialog("chexnet_densenet121.pth.tar",
                                  {"arch": "densenet121", "num_classes": 14, "channels": 3, "input_size": None},
                                  None, 727, ["densenet121", "densenet169", "resnet18", "resnet50", "tinyvgg_gap"],
                                  window)
        dialog.show()
        settle(window, 0.2)
        written.append(_save(dialog.grab(), out / "model-dialog.png"))
        dialog.close()
        window.close()
        wait_until(lambda: not window.isVisible())
    app.processEvents()
    return written


def _save(pixmap, path: Path) -> Path:
    if not pixmap.save(str(path)):
        raise OSError(f"could not write {path}")
    return path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m camviewer.gui.screenshots OUTDIR", file=sys.stderr)
        return 2
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # grab() renders without a screen
    for path in shoot(Path(argv[0])):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m camviewer.gui.app.screenshots OUTDIR [VOLUME_MODEL]`: README screenshots of the real window, offscreen.

Writes main.png (an image with its heatmap), compare.png (methods side by side), ct.png (a CT slice in
the lung window, the readout in HU), volume.png (a synthetic chest CT in three planes with the 3-D
Grad-CAM of VOLUME_MODEL, else of an untrained stand-in), model-dialog.png (the questions asked for a bare
state_dict), then training.png (a finished run with its curves), evaluation.png (confusion matrix, ROC and
metrics, one cell browsed), trust.png (ground truth over the image, the trust table per method), models.png
(two models side by side) and refine.png (the refinement wizard's before/after page). Every window shot is
taken at 1280 x 800 and again at 1920 x 1080 (``<name>-1920.png``). Uses the demo model, sample images
and small synthetic datasets, with settings in a temporary folder so the user's own preferences are
neither used nor changed."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SIZE, LARGE = (1280, 800), (1920, 1080)
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
        cell = (yy - 64) ** 2 + (xx - 64) ** 2 < 45**2
        pixels = np.where(cell[..., None], [226, 160, 170], [240, 228, 226]).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"cell_{index}.png")
    return folder


def shoot(out: Path, volume_model: str | None = None) -> list[Path]:
    from camviewer.core.model.inference import InferredArchitecture
    from camviewer.gui.app.launch import make_application
    from camviewer.gui.app.main_window import MainWindow
    from camviewer.gui.common.settings import Settings
    from camviewer.gui.viewer.checkpoint_dialog import CheckpointDialog

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
        written += both_sizes(window, out, "main")

        window.cam_panel.set_compare("methods")
        wait_until(lambda: window.session.result is not None and len(window.compare_view.cells) > 1)
        written += both_sizes(window, out, "compare")
        window.cam_panel.set_compare("off")
        written += shoot_ct(window, Path(scratch), out)
        written += shoot_volume(window, Path(scratch), out, volume_model)
        window.open_folder(folder)
        wait_until(lambda: window.session.result is not None and window.session.result.source in paths)

        dialog = CheckpointDialog(
            "chexnet_densenet121.pth.tar",
            InferredArchitecture("densenet121", 14, 3, {}),
            None,
            727,
            ["densenet121", "densenet169", "resnet18", "resnet50", "tinyvgg_gap"],
            window,
        )
        dialog.show()
        settle(window, 0.2)
        written.append(_save(dialog.grab(), out / "model-dialog.png"))
        dialog.close()
        written += shoot_workbench(window, Path(scratch), out)
        window.close()
        wait_until(lambda: not window.isVisible())
    app.processEvents()
    return written


def synth_cells(folder: Path, n: int, size: int, seed: int, shortcut: float = 0.0) -> Path:
    from camviewer.core.jobs import run_to_end
    from camviewer.core.synth import generate

    run_to_end(generate(folder, "cells", n, seed, size=size, shortcut=shortcut))
    return folder


def shoot_workbench(window, scratch: Path, out: Path) -> list[Path]:
    """The Training, Evaluation and Trust docks and the refinement wizard, on synthetic cells."""
    workbench, written = window.workbench, []
    demo = window.session.model.source  # trained on synthetic cells: its numbers mean something here
    held_out = synth_cells(scratch / "cells-held-out", 60, 128, seed=11, shortcut=1.0)

    panel, form = workbench.training, workbench.training.form
    workbench.show_dock("training")
    form.arch.setCurrentText("tinyvgg_gap")
    form.arch_options.setText('{"widths": [8, 16, 32]}')
    for spin, value in (
        (form.input_size, 64),
        (form.epochs, 10),
        (form.batch_size, 16),
        (form.lr, 0.003),
        (form.patience, 8),
    ):
        spin.setValue(value)
    form.device.setCurrentText("cpu")
    # positives carry a corner tag: a shortcut this small model learns within seconds (the trust and
    # refinement steps exist to catch exactly that)
    train_set = synth_cells(scratch / "cells-train", 400, 96, seed=12, shortcut=0.9)
    panel.data.set_path(train_set)
    wait_until(lambda: panel.preview.table.isVisible())
    panel.run_dir.setText(str(scratch / "runs" / "cells-tinyvgg_gap"))
    panel.start()
    wait_until(lambda: not panel.running())
    wait_until(lambda: window.session.model is not None and "best" in str(window.session.model.source))
    written += both_sizes(window, out, "training")
    shortcut_model = window.session.model.source

    window.open_model(demo)
    wait_until(lambda: window.session.model.source == demo)
    evaluation = workbench.evaluation
    workbench.show_dock("evaluation")
    evaluation.data.setText(str(held_out))
    evaluation.split.setCurrentIndex(evaluation.split.findData("all"))  # every image of that held-out set
    evaluation.start()
    wait_until(lambda: not evaluation.runner.running() and evaluation.result is not None)
    cells = evaluation.result.cells()
    errors = [cell for cell in cells if cell[0] != cell[1]]
    evaluation.confusion.choose(*(errors[0] if errors else next(iter(cells))))
    wait_until(
        lambda: (
            window.session.result is not None
            and window.browser.paths()
            and window.session.result.source == window.browser.paths()[0]
        )
    )
    written += both_sizes(window, out, "evaluation")

    workbench.truth.load(masks=str(held_out / "masks"), roi=str(held_out / "roi"), root=str(held_out))
    window.browser.open_folder(held_out / "parasitized")
    wait_until(lambda: workbench.truth.scores is not None and workbench.truth.path == window.browser.paths()[0])
    trust = workbench.trust
    workbench.show_dock("trust")
    trust.data.set_path(str(held_out))
    trust.set_checked_methods(["gradcam", "gradcam++", "layercam", "eigencam"])
    trust.faithfulness.setChecked(True)
    trust.faith_images.setValue(8)
    trust.start()
    wait_until(lambda: not trust.runner.running() and trust.report is not None)
    written += both_sizes(window, out, "trust")

    # two models side by side: the demo looks at the parasite, the shortcut model at the corner tag
    window.workbench.docks["trust"].close()
    window.actions.viewer_panel.trigger()
    window.comparison.open(shortcut_model)
    wait_until(lambda: window.comparison.result is not None and len(window.compare_view.cells) == 2)
    wait_until(lambda: window.compare_view.cells[1].heat.image is not None)
    written += both_sizes(window, out, "models")
    window.comparison.close()
    window.workbench.docks["trust"].show()

    window.open_model(shortcut_model)  # the refinement cycle is for a model that learnt the tag
    wait_until(lambda: window.session.model.source == shortcut_model)
    workbench.open_wizard()
    wizard = workbench.wizard
    wizard.measure_page.data.set_path(str(held_out))
    wizard.measure_page.run()
    wait_until(wizard.measure_page.isComplete)
    wizard.next()
    wizard.build_page.data.set_path(str(train_set))
    wizard.build_page.set_mode("crop")
    wizard.build_page.border.setValue(0.2)  # the corner tag lies within the outer fifth
    wizard.build_page.run()
    wait_until(wizard.build_page.isComplete)
    wizard.next()
    page = wizard.finetune_page
    page.epochs.setValue(10)
    page.lr.setValue(1e-3)
    page.batch_size.setValue(16)
    page.run()
    wait_until(page.isComplete)
    wizard.next()
    wait_until(wizard.after_page.isComplete)
    wizard.next()
    settle(window)
    written.append(_save(wizard.grab(), out / "refine.png"))
    wizard.compare_page.load_box.setChecked(False)
    wizard.accept()
    return written


def both_sizes(window, out: Path, name: str) -> list[Path]:
    """``name``.png at 1280 x 800 and ``name``-1920.png at 1920 x 1080, the window laid out at each size."""
    written = []
    for size, suffix in ((SIZE, ""), (LARGE, "-1920")):
        window.resize(*size)
        settle(window, 0.5)
        written.append(_save(window.grab(), out / f"{name}{suffix}.png"))
    window.resize(*SIZE)
    settle(window, 0.3)
    return written


def ct_slice(path: Path, size: int = 256) -> Path:
    """A chest-CT-like slice in Hounsfield units (air, soft tissue, lungs, spine, vessels) as a DICOM file."""
    import numpy as np
    from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    yy, xx = np.mgrid[:size, :size] / size
    hu = np.full((size, size), -1000.0)
    hu[((xx - 0.5) / 0.44) ** 2 + ((yy - 0.52) / 0.32) ** 2 < 1] = 40  # body: soft tissue
    for cx in (0.32, 0.68):
        hu[((xx - cx) / 0.15) ** 2 + ((yy - 0.48) / 0.21) ** 2 < 1] = -850  # lungs
    hu[((xx - 0.5) / 0.06) ** 2 + ((yy - 0.76) / 0.06) ** 2 < 1] = 700  # a vertebra
    hu[((xx - 0.54) / 0.09) ** 2 + ((yy - 0.5) / 0.08) ** 2 < 1] = 45  # heart
    hu[((xx - 0.36) / 0.015) ** 2 + ((yy - 0.42) / 0.015) ** 2 < 1] = -20  # a nodule in the right lung
    hu += np.random.default_rng(0).normal(0, 12, hu.shape)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = CTImageStorage, generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), Dataset(), file_meta=meta, preamble=b"\x00" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = CTImageStorage, meta.MediaStorageSOPInstanceUID, "CT"
    ds.Rows = ds.Columns = size
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleIntercept, ds.RescaleSlope, ds.WindowCenter, ds.WindowWidth = -1024, 1, 40, 400
    ds.PixelData = np.clip(np.rint(hu + 1024), 0, 4095).astype("<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def shoot_ct(window, scratch: Path, out: Path) -> list[Path]:
    """A CT slice in the lung window, the cursor readout in HU (display only: the model sees the file's window)."""
    from PySide6.QtCore import QPointF

    folder = scratch / "ct"
    folder.mkdir()
    path = ct_slice(folder / "chest-ct.dcm")
    window.open_paths([path])
    wait_until(lambda: window.session.result is not None and window.session.result.source == str(path))
    lung = next(row for row, w in enumerate(window.display_panel.presets(), 1) if w.name == "Lung")
    window.display_panel.choose(lung)
    window.cam_panel.opacity.setValue(0)  # the demo model knows blood cells, not CT: its map means nothing here
    window.cam_panel.outline.setCurrentIndex(window.cam_panel.outline.findData("none"))
    view = window.image_view
    view.scene().sigMouseMoved.emit(view.view.mapViewToScene(QPointF(92.5, 108.5)))  # on the nodule
    written = both_sizes(window, out, "ct")
    window.display_panel.choose(0)
    window.cam_panel.opacity.setValue(45)
    window.cam_panel.outline.setCurrentIndex(window.cam_panel.outline.findData("contour"))
    return written


def shoot_volume(window, scratch: Path, out: Path, model: str | None) -> list[Path]:
    """A synthetic chest CT (``synth --kind ct``) in three planes with a 3-D Grad-CAM, in the lung window.

    ``model``: a 3-D checkpoint trained on such volumes (the README's); without one, an untrained TinyVGG-GAP
    in 3-D stands in (the view is the same; its map means nothing).
    """
    import numpy as np

    from camviewer.core.jobs import run_to_end
    from camviewer.core.synth import generate

    data = scratch / "ct-volumes"
    run_to_end(generate(data, "ct", 4, 1))
    if model is None:
        model = str(_untrained_volume_model(scratch / "volume-model.safetensors"))
    with_model = window.session.model
    window.open_model(model)
    wait_until(lambda: window.session.model is not None and window.session.model.card.volume is not None)
    window.open_folder(data / "nodule")
    wait_until(lambda: window.session.result is not None and window.session.result.source.endswith(".nii.gz"), 300)
    lung = next(row for row, w in enumerate(window.display_panel.presets(), 1) if w.name == "Lung")
    window.display_panel.choose(lung)
    window.cam_panel.opacity.setValue(40)
    view = window.viewer.volume_view
    peak = np.unravel_index(np.nanargmax(view.map), view.map.shape)  # the crosshair on the map's peak
    view.set_point(peak)
    written = both_sizes(window, out, "volume")
    window.open_model(with_model.source)  # back to the 2-D model for the next shots
    wait_until(lambda: window.session.model is not None and window.session.model.card.volume is None)
    return written


def _untrained_volume_model(path: Path) -> Path:
    import torch

    from camviewer.core.model.card import ModelCard
    from camviewer.core.model.loading import new_model
    from camviewer.core.model.volume_recipe import VolumeRecipe

    torch.manual_seed(0)
    card = ModelCard(
        arch="tinyvgg_gap",
        class_names=["nodule", "normal"],
        channels=1,
        mean=(0.5,),
        std=(0.25,),
        arch_options={"spatial_dims": 3, "widths": [8, 16, 32]},
        volume=VolumeRecipe((32, 48, 48), window=(-1350.0, 150.0)),
    )
    return new_model(card, device="cpu").save(path)


def _save(pixmap, path: Path) -> Path:
    if not pixmap.save(str(path)):
        raise OSError(f"could not write {path}")
    return path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) not in (1, 2):
        print("usage: python -m camviewer.gui.app.screenshots OUTDIR [VOLUME_MODEL]", file=sys.stderr)
        return 2
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # grab() renders without a screen
    for path in shoot(Path(argv[0]), argv[1] if len(argv) == 2 else None):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

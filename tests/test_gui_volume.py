"""The volume view in the window: NIfTI files and DICOM series in three planes, slices, crosshair, window/level, map.

Expected planes come from nibabel's closest canonical (RAS) orientation of the same file, read independently:
axial slices show anterior at the top and the patient's right on the left of the screen, coronal and sagittal
ones superior at the top (sagittal: anterior on the left).
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from gui_helpers import WAIT_MS, EngineSpy, wait_for_result, write_images
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog
from volume_files import slice_positions, write_ct_series

from camviewer.gui.volume.tasks import VolumeFrame

pytest_plugins = ["gui_helpers"]
pytestmark = pytest.mark.usefixtures("no_dangling_work")

# NIfTI voxel axes (i, j, k) point Inferior, Left, Anterior: the viewer must turn them (no identity affine).
AFFINE = np.array([[0.0, -0.8, 0.0, 20.0], [0.0, 0.0, 1.5, -30.0], [-2.0, 0.0, 0.0, 40.0], [0.0, 0.0, 0.0, 1.0]])
SHAPE = (7, 6, 5)  # (i, j, k) as stored


def write_volume(path: Path) -> np.ndarray:
    """A CT-like NIfTI (HU from -1000, every voxel different); returns its data in RAS order (canonical)."""
    data = (np.arange(np.prod(SHAPE), dtype=np.float32).reshape(SHAPE) * 7.0 - 1000.0).astype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, AFFINE), path)
    return np.asarray(nib.as_closest_canonical(nib.load(path)).dataobj, dtype=np.float32)


def expected_planes(ras: np.ndarray, i: int, j: int, k: int) -> dict[str, np.ndarray]:
    """The three planes through RAS voxel (i, j, k) as a radiology viewer shows them."""
    return {
        "axial": ras[::-1, ::-1, k].T,  # rows anterior -> posterior, columns right -> left
        "coronal": ras[::-1, j, ::-1].T,  # rows superior -> inferior, columns right -> left
        "sagittal": ras[i, ::-1, ::-1].T,  # rows superior -> inferior, columns anterior -> posterior
    }


def shown(window) -> dict[str, np.ndarray]:
    return {name: plane.base.image for name, plane in window.viewer.volume_view.planes.items()}


def ras_point(window, ras_shape) -> tuple[int, int, int]:
    """The crosshair as RAS indices (i towards Right, j Anterior, k Superior) of the canonical array."""
    s, p, left = window.viewer.volume_view.point
    return ras_shape[0] - 1 - left, ras_shape[1] - 1 - p, s


def wait_for_volume(qtbot, window) -> None:
    qtbot.waitUntil(lambda: isinstance(window.session.frame, VolumeFrame), timeout=WAIT_MS)


def save_volume_model(path: Path) -> Path:
    import torch

    from camviewer.core.model.card import ModelCard
    from camviewer.core.model.loading import new_model
    from camviewer.core.model.volume_recipe import VolumeRecipe

    torch.manual_seed(0)
    card = ModelCard(
        arch="tinyvgg_gap",
        class_names=["normal", "nodule"],
        channels=1,
        mean=(0.5,),
        std=(0.25,),
        arch_options={"spatial_dims": 3, "widths": [4, 8]},
        volume=VolumeRecipe((8, 8, 8), window=(-1000.0, 400.0)),
    )
    return new_model(card, device="cpu").save(path)


@pytest.fixture
def volume_folder(tmp_path) -> tuple[Path, np.ndarray]:
    folder = tmp_path / "volumes"
    ras = write_volume(folder / "case01.nii.gz")
    write_volume(folder / "case02.nii.gz")
    return folder, ras


def test_a_nifti_volume_opens_in_three_planes_oriented_as_radiologists_read_them(qtbot, make_window, volume_folder):
    folder, ras = volume_folder
    window = make_window()
    window.open_paths([str(folder)])
    wait_for_volume(qtbot, window)
    view = window.viewer.volume_view
    assert window.viewer.central.currentWidget() is view
    assert window.browser.paths() == [str(folder / "case01.nii.gz"), str(folder / "case02.nii.gz")]
    i, j, k = ras_point(window, ras.shape)
    for name, expected in expected_planes(ras, i, j, k).items():
        np.testing.assert_array_equal(shown(window)[name], expected, err_msg=name)
    # each plane keeps its voxels' true aspect: 2 mm slices are drawn 2.5 times as tall as 0.8 mm columns
    assert view.planes["coronal"].pixel_mm == pytest.approx((2.0, 0.8))
    assert view.notice.text() == "Volume 5 × 6 × 7 voxels of 1.5 × 0.8 × 2 mm, NIfTI"  # as stored: (k, j, i)
    # presets: automatic, then CT ones (the values look like HU), as in the image view's display panel
    names = [preset.name for preset in window.display_panel.presets()]
    assert names[:3] == ["Auto", "Lung", "Mediastinum"] and names[-1] == "Full range"
    assert window.status.zoom.isHidden()  # the zoom readout belongs to the 2-D view


def test_wheel_and_clicks_move_the_slices_and_the_crosshair(qtbot, make_window, volume_folder):
    folder, ras = volume_folder
    window = make_window()
    window.open_paths([str(folder)])
    wait_for_volume(qtbot, window)
    view = window.viewer.volume_view
    axial = view.planes["axial"]
    before = view.slice_index("axial")
    centre = axial.viewport().rect().center()
    wheel = QWheelEvent(
        QPointF(centre),
        QPointF(axial.viewport().mapToGlobal(centre)),
        QPoint(0, 0),
        QPoint(0, 120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(axial.viewport(), wheel)
    assert view.slice_index("axial") == before + 1 == view.sliders["axial"].value()
    i, j, k = ras_point(window, ras.shape)
    np.testing.assert_array_equal(shown(window)["axial"], expected_planes(ras, i, j, k)["axial"])
    # a click on the axial plane at (row 1, column 4) moves the coronal and sagittal planes there
    height, width = axial.pixel_mm
    scene = axial.view.mapViewToScene(QPointF((4 + 0.5) * width, (1 + 0.5) * height))
    QTest.mouseClick(axial.viewport(), Qt.MouseButton.LeftButton, pos=axial.mapFromScene(scene))
    i, j, k = ras_point(window, ras.shape)
    assert (i, j) == (ras.shape[0] - 1 - 4, ras.shape[1] - 1 - 1)  # column 4 from the right, row 1 from the front
    for name, expected in expected_planes(ras, i, j, k).items():
        np.testing.assert_array_equal(shown(window)[name], expected, err_msg=name)
    assert axial.lines[0].value() == pytest.approx(4.5 * width) and axial.lines[1].value() == pytest.approx(
        1.5 * height
    )
    view.sliders["sagittal"].setValue(0)  # the slider of a plane moves the crosshair too
    assert ras_point(window, ras.shape)[0] == ras.shape[0] - 1
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_Down)  # Up/Down: the axial plane's slices when the cursor is elsewhere
    assert view.slice_index("axial") == k - 1


def test_window_level_presets_drag_and_invert_change_only_the_levels(qtbot, make_window, volume_folder, monkeypatch):
    folder, _ras = volume_folder
    window = make_window()
    window.open_paths([str(folder)])
    wait_for_volume(qtbot, window)
    spy = EngineSpy(monkeypatch)
    view, panel = window.viewer.volume_view, window.display_panel
    image = view.planes["axial"].base.image
    panel.choose(1 + [preset.name for preset in panel.presets()].index("Lung"))
    for plane in view.planes.values():
        assert tuple(plane.base.levels) == (-1350.0, 150.0)
    assert panel.current.text() == "C -600 W 1500"
    view.planes["sagittal"].windowDragged.emit(200.0, 0.0, True, False)  # a right drag: 200 px right doubles W
    view.planes["sagittal"].windowDragged.emit(200.0, 400.0, False, True)  # ... 400 px down: one width lower
    assert tuple(view.planes["coronal"].base.levels) == (-600.0 + 1500.0 - 1500.0, -600.0 + 1500.0 + 1500.0)
    assert panel.window.currentText().startswith("Custom")
    panel.invert.setChecked(True)
    low, high = view.planes["axial"].base.levels
    assert (low, high) == (2400.0, -600.0)  # reversed levels: white where the window puts black
    QApplication.processEvents()
    assert view.planes["axial"].base.image is image and spy.calls == 0 and not window.session.busy


def test_a_3d_model_maps_the_volume_and_opacity_changes_nothing_else(
    qtbot, make_window, volume_folder, tmp_path, monkeypatch
):
    folder, _ras = volume_folder
    checkpoint = save_volume_model(tmp_path / "models" / "volume.safetensors")
    window = make_window()
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        window.start([str(folder)], str(checkpoint))
    wait_for_result(qtbot, window, folder / "case01.nii.gz")
    view, result = window.viewer.volume_view, window.session.result
    volume_map = result.maps["gradcam"][result.predicted]
    assert volume_map.shape == (5, 6, 7) and np.nanmax(volume_map) <= 1.0
    frame = window.session.frame
    turned = frame.view.turn(volume_map)
    for name, plane in view.planes.items():
        index = view.slice_index(name)
        np.testing.assert_array_equal(plane.heat.image, frame.view.plane(turned, name, index), err_msg=name)
    spy = EngineSpy(monkeypatch)
    heat = view.planes["axial"].heat.image
    window.cam_panel.opacity.setValue(20)
    view.step("axial", -1)  # scrolling reads the map in memory, too
    QApplication.processEvents()
    assert all(plane.heat.opacity() == pytest.approx(0.2) for plane in view.planes.values())
    assert spy.calls == 0 and not window.session.busy and view.planes["axial"].heat.image is not heat
    assert "0." in window.model_panel.probability_texts()["nodule"]


def test_a_2d_model_says_it_cannot_explain_a_volume_and_the_next_image_is_2d_again(
    qtbot, make_window, volume_folder, checkpoint, tmp_path
):
    folder, _ras = volume_folder
    write_images(folder, 1, prefix="zz_slice")  # a 2-D image after the volumes
    window = make_window()
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        window.start([str(folder)], str(checkpoint))
    wait_for_volume(qtbot, window)
    notice = window.cam_panel.notice
    qtbot.waitUntil(lambda: "sees 2-D images, not volumes" in notice.text(), timeout=WAIT_MS)
    assert "sees 2-D images" in window.viewer.volume_view.notice.text()
    assert [level for level, _ in window.log.entries if level == "error"] == []
    window.browser.select(2)
    wait_for_result(qtbot, window, folder / "zz_slice00.png")
    assert window.viewer.central.currentWidget() is window.image_view
    assert not window.status.zoom.isHidden()


def test_a_dicom_series_is_one_entry_and_opens_as_a_volume_in_hounsfield_units(qtbot, make_window, tmp_path):
    folder = tmp_path / "series"
    hu = np.stack([np.full((6, 5), -1000.0 + 100.0 * k) for k in range(4)])
    hu[:, 2, 3] = 300.0
    write_ct_series(folder, hu, slice_positions((-10.0, -20.0, 50.0), (1, 0, 0, 0, 1, 0), 2.5, len(hu)))
    write_images(folder, 1, prefix="scout")  # a 2-D image beside the slices stays an image
    window = make_window()
    window.open_paths([str(folder)])
    qtbot.waitUntil(lambda: len(window.browser.paths()) == 2, timeout=WAIT_MS)
    assert window.browser.paths() == [str(folder), str(folder / "scout00.png")]  # the series first, selected
    wait_for_volume(qtbot, window)
    frame = window.session.frame
    assert frame.volume.shape == (4, 6, 5) and frame.volume.info.units == "HU"
    np.testing.assert_allclose(frame.volume.array, hu)  # slices were written shuffled under random names
    assert [preset.name for preset in window.display_panel.presets()][1] == "Lung"  # after Auto: CT presets


def test_export_of_a_volume_view_writes_the_map_on_the_source_grid_and_a_montage(
    qtbot, make_window, volume_folder, tmp_path, monkeypatch
):
    folder, _ras = volume_folder
    checkpoint = save_volume_model(tmp_path / "models" / "volume.safetensors")
    window = make_window()
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        window.start([str(folder)], str(checkpoint))
    wait_for_result(qtbot, window, folder / "case01.nii.gz")
    out = tmp_path / "out"
    out.mkdir()
    asked = {}

    def save_name(parent, title, proposed, *args, **kwargs):
        asked["proposed"] = proposed
        return str(out / "view.png"), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_name)
    window.export_view()
    qtbot.waitUntil(lambda: (out / "view.nii.gz").exists() and (out / "view.png").exists(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: len(window.registry) == 0, timeout=WAIT_MS)
    assert Path(asked["proposed"]).name.startswith("case01__gradcam__")
    written = nib.load(out / "view.nii.gz")
    source = nib.load(folder / "case01.nii.gz")
    np.testing.assert_allclose(written.affine, source.affine, atol=1e-5)
    result = window.session.result
    expected = np.nan_to_num(result.maps["gradcam"][result.predicted]).transpose()  # (d, h, w) -> NIfTI (i, j, k)
    np.testing.assert_allclose(np.asarray(written.dataobj), expected, atol=1e-6)

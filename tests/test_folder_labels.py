"""True labels for the browser: from a partition CSV, from class folders; none guessed for a plain folder."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from camviewer.core.data.folder_labels import folder_labels
from camviewer.core.images import list_images


def png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (4, 4)).save(path)
    return path


def test_a_partition_csv_gives_the_labels(tmp_path):
    images = [png(tmp_path / "scans" / f"{index:08d}_000.png") for index in range(3)]
    (tmp_path / "labels.csv").write_text(
        "path,label\nscans/00000000_000.png,Effusion|Mass\nscans/00000001_000.png,No Finding\n"
    )
    labels = folder_labels(tmp_path / "scans", list_images(tmp_path / "scans"))
    assert labels == {str(images[0]): "Effusion|Mass", str(images[1]): "No Finding"}  # the third is not listed


def test_class_folders_listed_recursively(tmp_path):
    normal = png(tmp_path / "data" / "train" / "normal" / "a.png")
    lesion = png(tmp_path / "data" / "test" / "lesion" / "b.png")
    mask = png(tmp_path / "data" / "masks" / "lesion" / "b.png")
    labels = folder_labels(tmp_path / "data", list_images(tmp_path / "data", recursive=True))
    assert labels == {str(normal): "normal", str(lesion): "lesion"}  # split names skipped, masks are no class
    assert str(mask) not in labels


def test_one_class_folder_opened_on_its_own(tmp_path):
    pneumonia = png(tmp_path / "chest" / "train" / "PNEUMONIA" / "x.png")
    png(tmp_path / "chest" / "train" / "NORMAL" / "y.png")
    assert folder_labels(pneumonia.parent, [pneumonia]) == {str(pneumonia): "PNEUMONIA"}
    # a folder that merely sits beside another with images is no class folder
    sample = png(tmp_path / "resources" / "samples" / "s.png")
    png(tmp_path / "resources" / "icons" / "i.png")
    assert folder_labels(sample.parent, [sample]) == {}

"""`camviewer explain` under bad files, clumsy folders and full disks (issue 11): nothing lost, nothing hung."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hostile_files import (
    NAME_MAX,
    NON_UTF8_NAME,
    fifo,
    image,
    longest_name_image,
    non_utf8_image,
    run_with_file_limit,
    tiny_checkpoint,
    unix_socket,
)

from camviewer.cli import main
from camviewer.core import csvfiles
from camviewer.core.cam.names import MethodSettings
from camviewer.core.errors import Cancelled, ExportExists, ExportInterrupted, ExportMismatch, WriteFailed
from camviewer.core.explain.export import explain_to_folder
from camviewer.core.jobs import CancelToken, run_to_end
from camviewer.core.model.loading import load_model

ROOT = Path(__file__).resolve().parent.parent
CLI = ["-c", "import sys; from camviewer.cli import main; sys.exit(main())"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("model") / "tiny.safetensors")


@pytest.fixture
def model(checkpoint, one_thread):
    return load_model(checkpoint, device="cpu")


def predictions(out: Path) -> list[dict]:
    """predictions.csv as written (bytes that are not UTF-8 kept as the file name's own bytes)."""
    with open(out / "predictions.csv", newline="", encoding="utf-8", errors="surrogateescape") as handle:
        return csvfiles.dict_rows(handle)


def outputs(out: Path) -> list[str]:
    return sorted(path.name for folder in ("maps", "overlays") for path in (out / folder).iterdir())


def listed_files(out: Path, rows: list[dict], suffixes=(".npy", ".png")) -> list[str]:
    """The map and overlay names that the rows' stems account for (one class per row: the prediction)."""
    return sorted(f"{row['stem']}__gradcam__{row['predicted']}{suffix}" for row in rows for suffix in suffixes)


def test_names_are_unique_by_construction_for_folders_stems_and_classes(tmp_path, one_thread):
    data = tmp_path / "data"
    sizes = {"sub1/x.png": (30, 40), "sub2/x.png": (36, 20), "x~2.png": (24, 28), "x.jpg": (20, 30), "X.png": (26, 22)}
    for index, (name, size) in enumerate(sizes.items()):
        image(data / name, index, size)
    checkpoint = tiny_checkpoint(tmp_path / "m.safetensors", class_names=("a/b", "a_b", "A_B"))
    out = tmp_path / "out"
    assert main(["explain", str(data), "--model", str(checkpoint), "--target", "all", "--out", str(out)]) == 0
    rows = predictions(out)
    assert len(rows) == len(sizes) and len({row["stem"] for row in rows}) == len(sizes)
    assert len({row["stem"].casefold() for row in rows}) == len(sizes)  # x and X: one file on macOS and Windows
    maps = sorted((out / "maps").iterdir())
    assert len(maps) == len(sizes) * 3 and len({p.name.casefold() for p in maps}) == len(maps)
    for row in rows:  # each map has its own image's size: no map overwrote another
        size = sizes[Path(row["path"]).relative_to(data).as_posix()]
        own = [p for p in maps if p.name.startswith(row["stem"] + "__")]
        assert len(own) == 3 and all(np.load(p).shape == size for p in own)
    assert {row["stem"] for row in rows} >= {"sub1~x", "sub2~x"}


def test_long_file_and_class_names_are_shortened_with_a_hash(tmp_path, one_thread):
    long_class = "c" * 300
    checkpoint = tiny_checkpoint(tmp_path / "m.safetensors", class_names=(long_class, "c" * 299 + "d"))
    source = longest_name_image(tmp_path / "data")
    assert len(os.fsencode(source.name)) == 249
    out = tmp_path / "out"
    assert main(["explain", str(source.parent), "--model", str(checkpoint), "--target", "all", "--out", str(out)]) == 0
    names = outputs(out)
    assert len(names) == 4 and len(set(names)) == 4  # two classes that share their first 299 characters
    assert all(len(os.fsencode(name)) <= NAME_MAX for name in names)
    assert all("~" in name.split("__")[0] and "~" in name.split("__")[2] for name in names)
    assert predictions(out)[0]["path"] == str(source)


def test_a_name_that_is_not_utf8_is_explained_and_written_as_its_bytes(tmp_path, checkpoint):
    source = non_utf8_image(tmp_path / "data")
    out = tmp_path / "out"
    done = subprocess.run(  # a real process: printing such a name to a pipe must not crash it either
        [sys.executable, *CLI, "explain", str(source.parent), "--model", str(checkpoint), "--out", str(out)],
        capture_output=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"Traceback" not in done.stderr
    (row,) = predictions(out)
    assert row["path"] == str(source) and os.fsencode(row["path"]).endswith(NON_UTF8_NAME)
    assert row["stem"] == "caf%E9-%FF"  # names camviewer makes are UTF-8: each stray byte as %XX
    assert (out / "predictions.csv").read_bytes().count(NON_UTF8_NAME) == 1


def test_fifos_and_sockets_are_skipped_with_a_reason_without_blocking(tmp_path, checkpoint):
    data = tmp_path / "data"
    image(data / "good.png")
    fifo(data, "x.png")
    fifo(data, "IM0001")  # no extension: a name DICOM files often have, checked by content
    _, server = unix_socket(data, "s.png")
    out = tmp_path / "out"
    try:
        done = subprocess.run(  # in a process of its own: a blocking read would end in a timeout, not a hang
            [sys.executable, *CLI, "explain", str(data), "--model", str(checkpoint), "--out", str(out)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    finally:
        server.close()
    assert done.returncode == 0, done.stderr
    assert "x.png: a FIFO (named pipe), not a regular file" in done.stderr
    assert "s.png: a socket, not a regular file" in done.stderr
    assert [Path(row["path"]).name for row in predictions(out)] == ["good.png"]


def test_an_earlier_export_is_refused_replaced_or_continued_only_when_asked(tmp_path, model, capsys):
    data = tmp_path / "data"
    for index in range(6):
        image(data / f"img{index}.png", index)
    out = tmp_path / "out"
    cancel = CancelToken()
    job = explain_to_folder(model, [data], out, batch_size=2, cancel=cancel)
    with pytest.raises(Cancelled):  # interrupted after three or four images
        for event in job:
            if event.done == 3:
                cancel.cancel()
    first = predictions(out)
    assert 3 <= len(first) < 6 and outputs(out) == listed_files(out, first)
    written = {name: (out / "maps" / name).stat().st_mtime_ns for name in os.listdir(out / "maps")}
    before = (out / "predictions.csv").read_bytes()

    with pytest.raises(ExportExists) as refused:
        run_to_end(explain_to_folder(model, [data], out))
    assert refused.value.found == ["predictions.csv", "export.json", "maps/", "overlays/"]
    assert (out / "predictions.csv").read_bytes() == before
    code = main(["explain", str(data), "--model", str(model.source), "--out", str(out)])
    assert code == 1 and "--resume" in capsys.readouterr().err

    summary = run_to_end(explain_to_folder(model, [data], out, batch_size=2, if_exists="resume"))
    rows = predictions(out)
    assert summary["already_done"] == len(first) and summary["explained"] == 6 - len(first)
    assert (out / "predictions.csv").read_bytes().startswith(before) and len(rows) == 6
    assert sorted(Path(row["path"]).name for row in rows) == [f"img{i}.png" for i in range(6)]
    assert all((out / "maps" / name).stat().st_mtime_ns == stamp for name, stamp in written.items())  # not redone
    assert outputs(out) == listed_files(out, rows)

    with pytest.raises(ExportMismatch) as mismatch:  # continuing with other settings would mix two exports
        run_to_end(explain_to_folder(model, [data], out, methods=("layercam",), if_exists="resume"))
    assert mismatch.value.differences == {"methods": (["gradcam"], ["layercam"])}
    with pytest.raises(ExportMismatch) as mismatch:  # a method's own setting too (Smooth Grad-CAM++'s copies)
        run_to_end(explain_to_folder(model, [data], out, if_exists="resume", settings=MethodSettings(smooth_samples=8)))
    assert list(mismatch.value.differences) == ["method_settings"]
    faster = MethodSettings(batch_size=4)  # how many inputs per forward: the maps are the same
    assert run_to_end(explain_to_folder(model, [data], out, if_exists="resume", settings=faster))["already_done"] == 6

    stale = out / "maps" / "gone__gradcam__a.npy"
    np.save(stale, np.zeros(2))
    assert (
        main(["explain", str(data / "img0.png"), "--model", str(model.source), "--out", str(out), "--overwrite"]) == 0
    )
    assert len(predictions(out)) == 1 and not stale.exists() and outputs(out) == listed_files(out, predictions(out))


def test_resuming_after_a_kill_drops_a_cut_row_and_files_no_row_lists(tmp_path, model):
    data = tmp_path / "data"
    for index in range(4):
        image(data / f"img{index}.png", index)
    out = tmp_path / "out"
    run_to_end(explain_to_folder(model, [data / "img0.png", data / "img1.png"], out))
    with open(out / "predictions.csv", "ab") as handle:  # killed while appending the next row...
        handle.write(str(data / "img2.png").encode() + b",a,0.5")
    orphan = out / "overlays" / "img2__gradcam__a.png"  # ...after writing that image's files
    orphan.write_bytes(b"written, but never listed")
    summary = run_to_end(explain_to_folder(model, [data], out, if_exists="resume"))
    rows = predictions(out)
    assert summary["already_done"] == 2 and len(rows) == 4
    assert sorted(Path(row["path"]).name for row in rows) == [f"img{i}.png" for i in range(4)]
    assert outputs(out) == listed_files(out, rows)  # the orphan was removed (or rewritten, if img2 is "a")
    assert not orphan.exists() or orphan.read_bytes().startswith(b"\x89PNG")


def test_the_output_folder_inside_an_input_folder_is_never_read_back(tmp_path, checkpoint, capsys):
    data = tmp_path / "data"
    for index in range(3):
        image(data / f"img{index}.png", index)
    out = data / "out"
    for again in ([], ["--overwrite"]):
        assert main(["explain", str(data), "--model", str(checkpoint), "--out", str(out), *again]) == 0
        rows = predictions(out)
        assert sorted(Path(row["path"]).name for row in rows) == ["img0.png", "img1.png", "img2.png"]
    assert "holds the output folder" in capsys.readouterr().err
    code = main(["explain", str(out / "overlays"), "--model", str(checkpoint), "--out", str(out), "--overwrite"])
    assert code == 1 and "outputs are not read as input" in capsys.readouterr().err


@contextlib.contextmanager
def read_only(folder: Path):
    """A folder nobody may write into, root included (root ignores permissions, not the immutable flag)."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    subprocess.run(["chattr", "+i", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_an_output_that_is_a_file_or_read_only_is_one_clear_error(tmp_path, checkpoint, capsys):
    source = image(tmp_path / "a.png")
    (tmp_path / "file").write_text("not a folder")
    assert main(["explain", str(source), "--model", str(checkpoint), "--out", str(tmp_path / "file")]) == 1
    err = capsys.readouterr().err
    assert "cannot write" in err and "it is a file, not a folder" in err and "Traceback" not in err
    with read_only(tmp_path / "locked") as locked:
        assert main(["explain", str(source), "--model", str(checkpoint), "--out", str(locked / "out")]) == 1
        err = capsys.readouterr().err
        assert err.startswith("camviewer: cannot write") and "Traceback" not in err
        assert "choose a folder you can write to" in err
        assert os.listdir(locked) == []


def test_a_full_disk_stops_the_export_cleanly_and_resume_finishes_it(tmp_path, checkpoint):
    data = tmp_path / "data"
    for index in range(4):
        image(data / f"small{index}.png", index, size=(24, 24))
    image(data / "zlarge.png", 9, size=(400, 400))  # its map (640 KB) cannot be written under the limit
    out = tmp_path / "out"
    args = [*CLI, "explain", str(data), "--model", str(checkpoint), "--out", str(out), "--batch-size", "2"]
    full = run_with_file_limit(args, limit_bytes=200_000, cwd=ROOT)
    assert full.returncode == 1 and "Traceback" not in full.stderr
    assert "the export stopped after 4 image(s)" in full.stderr and "File too large" in full.stderr
    assert "--resume" in full.stderr
    rows = predictions(out)
    assert len(rows) == 4 and outputs(out) == listed_files(out, rows)  # nothing half-written, nothing unlisted
    assert not [p for folder in ("maps", "overlays") for p in (out / folder).iterdir() if p.name.startswith(".")]
    assert main(["explain", str(data), "--model", str(checkpoint), "--out", str(out), "--resume"]) == 0
    rows = predictions(out)
    assert len(rows) == 5 and outputs(out) == listed_files(out, rows)


def test_a_failing_write_removes_the_image_being_written(tmp_path, model, monkeypatch):
    import errno

    from camviewer.core.explain import outputs as outputs_module

    data = tmp_path / "data"
    for index in range(3):
        image(data / f"img{index}.png", index)

    def full_disk(path, rgb):  # img1's overlay: its map is already written
        if path.name.startswith("img1__"):
            raise WriteFailed(path, "No space left on device", errno.ENOSPC)
        return original(path, rgb)

    original = outputs_module.write_png
    monkeypatch.setattr(outputs_module, "write_png", full_disk)
    out = tmp_path / "out"
    with pytest.raises(ExportInterrupted) as stopped:
        run_to_end(explain_to_folder(model, [data], out, batch_size=1))
    rows = predictions(out)
    assert stopped.value.cause.no_space and stopped.value.explained == len(rows) >= 1
    assert "img1.png" not in {Path(row["path"]).name for row in rows}  # its map, written first, removed too
    assert outputs(out) == listed_files(out, rows)


def test_file_names_are_printed_readably(capsys):
    from camviewer.core.filenames import printable, safe_name

    weird = os.fsdecode(b"/data/caf\xe9.png")
    assert printable(weird) == "/data/caf\\xe9.png"
    print(printable(weird), file=io.TextIOWrapper(io.BytesIO(), encoding="utf-8"))  # encodable: no surrogate left
    assert safe_name("a/b") == safe_name("a_b") == safe_name("a__b") == "a_b"
    assert safe_name('co:n<"*?|>') == "co_n_" and safe_name("") == "_"

"""The studies' files under hostile input (issue 11): the HTML report, ground-truth files, enhanced sets."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from hostile_files import (
    NON_UTF8_NAME,
    fifo,
    hostile_annotations,
    image,
    non_utf8_image,
    run_with_file_limit,
    tiny_checkpoint,
)

from camviewer.cli import main
from camviewer.core.errors import AnnotationError, DatasetError
from camviewer.core.jobs import run_to_end
from camviewer.core.trust.groundtruth import load_ground_truth
from camviewer.core.trust.refine import manifest_border_crop, refine_dataset

ROOT = Path(__file__).resolve().parent.parent
CLI = ["-c", "import sys; from camviewer.cli import main; sys.exit(main())"]


def within(seconds: float, work):
    """``work()``'s result, run in a thread: a read that blocks fails the test instead of hanging the suite."""
    outcome = {}

    def run():
        try:
            outcome["value"] = work()
        except BaseException as error:  # handed to the test below
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "blocked"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def test_a_report_shows_formula_classes_and_non_utf8_names_as_they_are(tmp_path, capsys, one_thread):
    data = tmp_path / "data"
    for index in range(2):
        image(data / "=cmd" / f"{index}.png", index)
        image(data / "b" / f"{index}.png", index + 5)
    weird = non_utf8_image(data / "b")
    checkpoint = tiny_checkpoint(tmp_path / "m.safetensors", class_names=("=cmd", "b"))
    evaluation, report = tmp_path / "eval", tmp_path / "report.html"
    assert (
        main(["evaluate", str(data), "--model", str(checkpoint), "--out", str(evaluation), "--positive-class", "=cmd"])
        == 0
    )
    written = (evaluation / "predictions.csv").read_bytes()
    assert b",'=cmd," in written and NON_UTF8_NAME in written  # neutralised for spreadsheets; the name's own bytes
    assert main(["report", str(evaluation), "--out", str(report)]) == 0
    page = report.read_bytes().decode("utf-8")  # valid UTF-8: the name's stray bytes are shown, not written
    shown = weird.name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    assert shown == "caf\\xe9-\\xff.png" and f'alt="image {shown}"' in page
    assert "=cmd" in page and "'=cmd" not in page and "&#x27;=cmd" not in page  # read back as it was named
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("name", list(hostile_annotations()))
def test_a_ground_truth_file_that_lies_is_one_annotation_error(tmp_path, name):
    kind, content = hostile_annotations()[name]
    text = content if isinstance(content, str) else json.dumps(content)
    if kind == "coco":
        (tmp_path / "truth.json").write_text(text)
        load = {"coco": tmp_path / "truth.json"}
    else:
        (tmp_path / "voc").mkdir()
        (tmp_path / "voc" / "a.xml").write_text(text)
        load = {"voc": tmp_path / "voc"}
    with pytest.raises(AnnotationError):
        within(60, lambda: load_ground_truth(**load))


def test_ground_truth_files_that_are_fifos_are_refused_at_once(tmp_path):
    (tmp_path / "voc").mkdir()
    (tmp_path / "voc" / "b.xml").write_text("<annotation><filename>b.png</filename></annotation>")
    given = {
        "voc": fifo(tmp_path / "voc", "a.xml").parent,
        "coco": fifo(tmp_path, "truth.json"),
        "boxes": fifo(tmp_path, "boxes.csv"),
    }
    for kind, path in given.items():
        with pytest.raises(AnnotationError, match="a FIFO"):
            within(60, lambda load={kind: path}: load_ground_truth(**load))


@pytest.fixture
def dataset(tmp_path):
    data = tmp_path / "data"
    for cls in ("a", "b"):
        for index in range(2):
            image(data / cls / f"{index}.png", index)
            image(data / "roi" / cls / f"{index}.png", index)
    fifo(data / "a", "pipe.png")
    (data / "b" / "cut.png").write_bytes((data / "b" / "0.png").read_bytes()[:60])  # a PNG cut short
    image(data / "roi" / "a" / "pipe.png")
    image(data / "roi" / "b" / "cut.png")
    return data


@pytest.mark.parametrize("mode", ["crop", "roi-mask"])
def test_an_enhanced_set_skips_what_it_cannot_read_and_never_blocks(dataset, tmp_path, mode):
    out = tmp_path / "new"
    manifest = within(60, lambda: run_to_end(refine_dataset(dataset, out, mode, roi_masks=dataset / "roi")))
    skipped = dict(manifest["skipped"])
    assert "FIFO" in skipped.pop("a/pipe.png") and not (out / "a" / "pipe.png").exists()
    if mode == "roi-mask":  # decoded: the cut file is refused; copied (crop): its bytes are kept as they are
        assert skipped.pop("b/cut.png") == "image file is truncated"
    assert skipped == {} and manifest["images"] == 4 + (mode == "crop")
    assert not list(out.rglob(".*"))  # no temporary file left


def test_an_enhanced_set_on_a_full_disk_is_one_message_and_no_manifest(dataset, tmp_path):
    (dataset / "a" / "pipe.png").unlink()
    image(dataset / "b" / "large.png", 3, size=(200, 200))  # ~100 KB: cannot be copied under the limit
    out = tmp_path / "new"
    full = run_with_file_limit([*CLI, "refine", str(dataset), "--out", str(out), "--mode", "crop"], 40_000, ROOT)
    assert full.returncode == 1 and "Traceback" not in full.stderr
    assert "cannot write" in full.stderr and "File too large" in full.stderr
    assert not (out / "refine.json").exists() and not list(out.rglob(".*"))


@pytest.mark.parametrize("text", ["[1, 2]", "{not json", '"crop"'])
def test_a_refine_manifest_that_is_not_an_object_is_a_dataset_error(tmp_path, text):
    (tmp_path / "refine.json").write_text(text)
    with pytest.raises(DatasetError, match="refine"):
        manifest_border_crop(tmp_path)


GOOD_MEASUREMENT = {
    "measure": {"data": "held-out", "masks": "held-out/masks", "method": "gradcam"},
    "before": {
        "checkpoint": None,
        "metrics": {"accuracy": 0.5},
        "localization": {"pointing_game": 0.4},
        "method": "gradcam",
    },
}


@pytest.mark.parametrize(
    "edit",
    [
        {"measure": ["held-out"]},
        {"measure": {**GOOD_MEASUREMENT["measure"], "data": 5}},
        {"measure": {**GOOD_MEASUREMENT["measure"], "allow_outside": "yes"}},
        {"measure": {**GOOD_MEASUREMENT["measure"], "extra": 1}},
        {"before": "0.5"},
        {"before": {**GOOD_MEASUREMENT["before"], "metrics": {"accuracy": "high"}}},
        {"before": {**GOOD_MEASUREMENT["before"], "localization": [0.4]}},
    ],
)
def test_a_refine_manifest_whose_measurement_was_edited_is_a_dataset_error(tmp_path, edit):
    from camviewer.core.trust.comparison import check_refinement

    init = tiny_checkpoint(tmp_path / "init.safetensors")
    (tmp_path / "set").mkdir()
    manifest = {"mode": "cam-overlay", "model": str(init), **GOOD_MEASUREMENT, **edit}
    (tmp_path / "set" / "refine.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match="measurement before refinement is unreadable"):
        run_to_end(check_refinement(tmp_path / "set", init, init, tmp_path / "run"))

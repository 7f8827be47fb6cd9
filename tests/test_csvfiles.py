"""CSV injection (OWASP): every CSV camviewer writes neutralises cells a spreadsheet would run, and reads its own
files back exactly (a file named "-x.png", a class named "=cmd")."""

from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest
from hostile_files import image, tiny_checkpoint

import camviewer
from camviewer.cli import main
from camviewer.core import csvfiles
from camviewer.core.csvfiles import neutralise, restore
from camviewer.core.data.index import read_partition_csv, scan_dataset, write_split_csv

pytestmark = pytest.mark.usefixtures("one_thread")
FORMULAS = ['=HYPERLINK("http://x","y")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx"]


@pytest.mark.parametrize("cell", FORMULAS)
def test_a_cell_a_spreadsheet_would_run_gets_a_quote_in_front(cell):
    assert neutralise(cell) == "'" + cell and restore(neutralise(cell)) == cell


def test_numbers_and_plain_text_are_left_alone():
    for cell in ("-0.25", "+3", "-1e-05", "0.5", "normal", "a=b", "'quoted", "", "'"):
        assert neutralise(cell) == cell and restore(cell) == cell
    assert neutralise(-0.5) == -0.5 and neutralise(None) is None


def test_reading_back_is_exact_for_every_text(tmp_path):
    cells = [*FORMULAS, "'=x", "''", "''=", "'-1", "-", "=", "'", "x", "-x.png", "-inf", "@", "+", "'\t"]
    text = csvfiles.csv_text([cells])
    assert next(csvfiles.reader(io.StringIO(text))) == cells
    assert "=HYPERLINK" in text and ",=" not in text and not text.startswith("=")


def test_every_csv_writer_goes_through_csvfiles():
    package = Path(camviewer.__file__).parent
    importing_csv = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if any(
            isinstance(node, (ast.Import, ast.ImportFrom))
            and "csv" in ([a.name for a in node.names] if isinstance(node, ast.Import) else [node.module])
            for node in ast.walk(ast.parse(path.read_text()))
        )
    ]
    assert importing_csv == ["core/csvfiles.py"]


def test_explain_neutralises_class_names_and_file_names(tmp_path):
    checkpoint = tiny_checkpoint(tmp_path / "m.safetensors", class_names=("=HYPERLINK(1)", "+evil"))
    data = tmp_path / "data"
    image(data / "-x.png")
    image(data / "@y.png", 1)
    out = tmp_path / "out"
    assert main(["explain", str(data), "--model", str(checkpoint), "--target", "all", "--out", str(out)]) == 0
    raw = (out / "predictions.csv").read_text()
    header, *rows = raw.splitlines()
    assert header == "path,predicted,p_=HYPERLINK(1),p_+evil,stem"  # "p_..." runs nothing: left as it is
    for row in rows:
        assert row.split(",")[1] in ("'=HYPERLINK(1)", "'+evil")  # the predicted class, neutralised
    with open(out / "predictions.csv", newline="") as handle:
        read = csvfiles.dict_rows(handle)
    assert sorted(Path(row["path"]).name for row in read) == ["-x.png", "@y.png"]
    assert {row["stem"] for row in read} == {"-x", "@y"}  # what reading back gives: the names themselves
    assert (out / "maps" / "-x__gradcam__+evil.npy").exists()


def test_split_csv_round_trips_a_file_named_with_a_dash_and_a_class_named_like_a_formula(tmp_path):
    data = tmp_path / "data"
    for index in range(3):
        image(data / "=cmd" / f"-x{index}.png", index)
        image(data / "+plus" / f"@y{index}.png", index + 5)
    index = scan_dataset(data)
    path = write_split_csv(index.samples, tmp_path / "run" / "split.csv")
    written = path.read_text()
    assert "'=cmd" in written and "\n=cmd" not in written and ",=cmd" not in written
    again = read_partition_csv(path, allow_outside=True)
    assert [(Path(s.path).resolve(), s.labels) for s in again.samples] == [
        (Path(s.path).resolve(), s.labels) for s in index.samples
    ]
    assert all(Path(s.path).is_file() for s in again.samples)


def test_a_training_run_resumes_and_evaluates_with_dashes_and_formulas_in_its_names(tmp_path, capsys):
    data = tmp_path / "data"
    for index in range(6):
        image(data / "-neg" / f"-{index}.png", index, size=(16, 16))
        image(data / "=pos" / f"+{index}.png", index + 9, size=(16, 16))
    run = tmp_path / "run"
    common = ["--arch", "tinyvgg_gap", "--widths", "4,8", "--input-size", "16", "--device", "cpu"]
    assert main(["train", str(data), "--out", str(run), "--epochs", "1", "--test-split", "0.25", *common]) == 0
    assert main(["train", "--resume", str(run), "--epochs", "2"]) == 0  # split.csv read back: the same images
    report = tmp_path / "report"
    args = ["evaluate", str(data), "--model", str(run / "best.safetensors"), "--split", "test", "--out", str(report)]
    assert main([*args, "--positive-class", "=pos"]) == 0
    capsys.readouterr()
    with open(report / "predictions.csv", newline="") as handle:
        rows = csvfiles.dict_rows(handle)
    assert len(rows) == 3 and {row["true"] for row in rows} <= {"-neg", "=pos"}
    assert all(Path(row["path"]).is_file() for row in rows)
    raw = (report / "predictions.csv").read_text()
    assert ",=pos" not in raw and "'=pos" in raw

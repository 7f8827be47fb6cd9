"""The README's command-line walkthrough runs as written (scaled down: fewer images, fewer epochs)."""

import re
import shlex
from pathlib import Path

from camviewer.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"
# Only sizes change; every command, flag and path is the README's own.
SCALE_DOWN = {"--n 1000": "--n 40", "--input-size 96": "--input-size 32 --epochs 2 --threads 1"}
# Flags added where a command does not set them already.
EXTRA = {
    "faithfulness": {"--limit": "6", "--sanity-images": "2", "--steps": "5"},
    "train": {"--epochs": "2", "--input-size": "32", "--threads": "1"},
}


def readme_commands() -> list[list[str]]:
    block = re.search(r"## Command line.*?```sh\n(.*?)```", README.read_text(), re.S).group(1)
    commands = []
    for line in block.replace("\\\n", " ").splitlines():  # continued lines joined, as the shell does
        if line.startswith("camviewer "):
            for old, new in SCALE_DOWN.items():
                line = line.replace(old, new)
            commands.append(shlex.split(line)[1:])
    return commands


def test_readme_walkthrough_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    commands = readme_commands()
    assert [c[0] for c in commands] == [
        "synth",
        "train",
        "evaluate",
        "explain",
        "localize",
        "faithfulness",
        "report",
        "refine",
        "train",
        "info",
    ]
    for command in commands:
        extra = [
            item for flag, value in EXTRA.get(command[0], {}).items() if flag not in command for item in (flag, value)
        ]
        assert main(command + extra) == 0, (command, capsys.readouterr().err[-2000:])
    assert (tmp_path / "runs/refined/best.safetensors").is_file()
    assert (tmp_path / "reports/cells/metrics.json").is_file()
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert any((tmp_path / "maps/maps").glob("*__layercam__*.npy"))
    assert '"auto_layer"' in capsys.readouterr().out


WALKTHROUGH_SCALE = {
    "--n 400": "--n 16",
    "--n 120": "--n 16",
    "--size 96": "--size 32",
    "--input-size 96": "--input-size 32 --threads 1",
    "--epochs 12": "--epochs 1",
}


def test_readme_study_walkthrough_runs(tmp_path, monkeypatch, capsys):
    """The 3-class checkpoint on NORMAL/PNEUMONIA walkthrough, every line as written (sizes scaled down)."""
    import json
    import subprocess

    monkeypatch.chdir(tmp_path)
    block = re.search(r"### Walkthrough: a 3-class.*?```sh\n(.*?)```", README.read_text(), re.S).group(1)
    for line in block.splitlines():
        for old, new in WALKTHROUGH_SCALE.items():
            line = line.replace(old, new)
        words = shlex.split(line, comments=True)
        if words[0] == "camviewer":
            expected = 1 if "# refused" in line else 0
            assert main(words[1:]) == expected, (line, capsys.readouterr().err[-2000:])
        else:
            assert words[0] in ("mkdir", "mv")
            subprocess.run(words, check=True)
    output = capsys.readouterr()
    assert "data label(s) 'PNEUMONIA' match none of the model's classes" in output.err
    assert "PNEUMONIA -> Bacterial Pneumonia + Viral Pneumonia" in output.out
    metrics = json.loads((tmp_path / "reports/grouped/metrics.json").read_text())
    assert metrics["class_names"] == ["PNEUMONIA", "Normal"] and metrics["positive_class"] == "PNEUMONIA"
    assert metrics["operating_point"]["rule"] == "sensitivity:0.9" and metrics["operating_point"]["sensitivity"] >= 0.9
    report = (tmp_path / "reports/grouped.html").read_text()
    assert "PNEUMONIA is scored as one class: the sum of Bacterial Pneumonia, Viral Pneumonia." in report
    assert "True positives: true PNEUMONIA, predicted PNEUMONIA" in report and 'alt="map ' in report

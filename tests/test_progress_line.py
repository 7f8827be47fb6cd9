"""The CLI's progress line: rates are real (counted from the first report), with their unit."""

from __future__ import annotations

import pytest

from camviewer.commands import _common


@pytest.fixture
def clock(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(_common.time, "perf_counter", lambda: now[0])
    return now


def test_the_rate_counts_from_the_first_report_with_its_unit(clock, capsys):
    line = _common.ProgressLine("images")
    clock[0] += 30.0  # the line was made long before the job's first report (e.g. while indexing)
    line.update(32, 320)  # the first report already counts a whole batch
    clock[0] += 0.1
    line.update(64, 320)  # too soon for a rate: none rather than 320 images/s from 0.1 s
    clock[0] += 0.9
    line.update(96, 320)
    printed = capsys.readouterr().err.splitlines()
    assert "/s" not in printed[0]
    assert printed[-1].split() == ["96/320", "images", "64.0", "images/s", "ETA", "4s"]  # (96 - 32) / 1.0 s


def test_a_batch_line_leaves_the_rate_to_its_images_per_second(clock, capsys):
    line = _common.ProgressLine("batches", rate=False)
    line.update(1, 10, "epoch 1  58 images/s")
    clock[0] += 1.0
    line.update(10, 10, "epoch 1  61 images/s")
    last = capsys.readouterr().err.splitlines()[-1]
    assert "batches/s" not in last and last.strip().endswith("61 images/s")

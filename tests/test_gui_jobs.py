"""The job plumbing of every panel: JobControls over a JobRunner (run, progress with the time left, the
three ends), and the "latest request wins" tickets.

Jobs here are small generators gated by threading.Events, so each step happens when the test says so.
"""

from __future__ import annotations

import threading

import pytest
from gui_helpers import WAIT_MS

from camviewer.core.errors import DatasetError
from camviewer.core.jobs import CancelToken, Progress
from camviewer.gui.jobs.controls import JobControls
from camviewer.gui.jobs.latest import Latest
from camviewer.gui.jobs.progress_bar import JobProgressBar, format_duration
from camviewer.gui.jobs.registry import WorkerRegistry
from camviewer.gui.jobs.runner import JobRunner

pytest_plugins = ["gui_helpers"]  # the GUI fixtures; kept out of conftest.py so core tests load no Qt
pytestmark = pytest.mark.usefixtures("no_dangling_work")  # every GUI test: no threads or workers left behind

GATE_S = WAIT_MS / 1000  # a gate the test forgot to open fails the test instead of hanging it


def gated_count(total: int, gates: list[threading.Event], cancel: CancelToken):
    """Yields step 1, then one more step each time the next gate opens; returns the number of steps."""
    for done, gate in enumerate([None, *gates], start=1):
        if gate is not None:
            assert gate.wait(GATE_S)
        cancel.raise_if_cancelled()
        yield Progress(done, total, f"step {done}")
    return len(gates) + 1


def failing_job(gate: threading.Event, cancel: CancelToken):
    yield Progress(1, 4, "reading")
    assert gate.wait(GATE_S)
    raise DatasetError("no images in /data/empty")


@pytest.fixture
def controls(qtbot):
    """JobControls over a JobRunner, its bar on a clock the test sets (``controls.now``)."""
    registry = WorkerRegistry()
    runner = JobRunner(registry)
    now = [100.0]
    widget = JobControls(
        runner,
        "Count",
        progress=JobProgressBar(clock=lambda: now[0]),
        cancelled_text="Counting cancelled.",
        cancelling_text="Cancelling…",
    )
    qtbot.addWidget(widget)
    widget.now, widget.runner, widget.changes = now, runner, []
    widget.runningChanged.connect(widget.changes.append)
    yield widget
    runner.cancel()
    qtbot.waitUntil(lambda: not runner.running(), timeout=WAIT_MS)


def test_a_job_runs_shows_its_progress_and_time_left_and_ends_done(controls, qtbot):
    gates = [threading.Event(), threading.Event()]
    runner, bar = controls.runner, controls.progress
    controls.runClicked.connect(lambda: runner.start("Counting", gated_count, 160, gates))
    controls.run_button.click()
    assert controls.changes == [True] and not controls.run_button.isEnabled() and controls.cancel_button.isEnabled()
    assert bar.maximum() == 0  # busy until a total is known
    qtbot.waitUntil(lambda: bar.value() == 1, timeout=WAIT_MS)
    assert (bar.maximum(), bar.format()) == (160, "step 1")  # one count: no pace yet, no guess
    controls.now[0] += 2.0  # step 2 comes 2 s after step 1: 0.5 step/s, 158 steps left
    gates[0].set()
    qtbot.waitUntil(lambda: bar.value() == 2, timeout=WAIT_MS)
    assert bar.format() == "step 2 · 5 min 16 s left"
    with qtbot.waitSignal(runner.finished, timeout=WAIT_MS):
        gates[1].set()
    assert (bar.minimum(), bar.maximum(), bar.value(), bar.format()) == (0, 1, 1, "done")
    assert controls.changes == [True, False] and controls.run_button.isEnabled()
    assert not controls.cancel_button.isEnabled()


def test_a_failed_job_says_why_in_red_and_stops_the_bar(controls, qtbot):
    gate = threading.Event()
    runner, bar = controls.runner, controls.progress
    reported = []
    runner.failed.connect(lambda message, _details: reported.append(message))
    runner.start("Reading", failing_job, gate)
    qtbot.waitUntil(lambda: bar.value() == 1, timeout=WAIT_MS)
    with qtbot.waitSignal(runner.finished, timeout=WAIT_MS):
        gate.set()
    assert reported == ["no images in /data/empty"]  # a typed error: its own message, no traceback
    assert controls.status.text() == "no images in /data/empty" and "b00020" in controls.status.styleSheet()
    assert (bar.maximum(), bar.value(), bar.format()) == (1, 0, "failed")
    assert controls.run_button.isEnabled() and not controls.cancel_button.isEnabled()


def test_a_failure_the_owner_handles_still_stops_the_busy_bar(controls, qtbot):
    def refused(cancel: CancelToken):  # a generator job that fails before its first progress line
        yield from ()
        raise DatasetError("no images")

    runner, bar = controls.runner, controls.progress
    runner.error_handler = lambda error: True  # the owner deals with it (as training does with offline weights)
    with qtbot.waitSignal(runner.finished, timeout=WAIT_MS):
        runner.start("Reading", refused)
        assert bar.maximum() == 0
    assert (bar.maximum(), bar.value()) == (1, 0) and controls.status.text() == ""
    assert controls.run_button.isEnabled()


def test_cancel_stops_the_job_and_says_so(controls, qtbot):
    gates = [threading.Event()]
    runner, bar = controls.runner, controls.progress
    runner.start("Counting", gated_count, 10, gates)
    qtbot.waitUntil(lambda: bar.value() == 1, timeout=WAIT_MS)
    controls.cancel_button.click()
    assert controls.status.text() == "Cancelling…" and runner.running()
    with qtbot.waitSignal(runner.finished, timeout=WAIT_MS):
        gates[0].set()  # the job sees the cancel before its next step
    assert controls.status.text() == "Counting cancelled."
    assert (bar.maximum(), bar.value(), bar.format()) == (1, 0, "cancelled")
    assert controls.changes == [True, False] and controls.run_button.isEnabled()


def test_the_time_left_is_measured_from_the_first_count_seen(qtbot):
    now = [50.0]
    bar = JobProgressBar(clock=lambda: now[0])
    qtbot.addWidget(bar)
    bar.busy()
    bar.show_progress(Progress(0, None, "loading the model"))  # no total: no count, no clock
    now[0] = 80.0  # loading took 30 s: not part of the pace
    bar.show_progress(Progress(10, 160, "localization: a.png"))
    now[0] = 90.0
    bar.show_progress(Progress(20, 160, "localization: b.png"))  # 10 images in 10 s: 140 s left
    assert bar.format() == "localization: b.png · 2 min 20 s left"
    bar.busy()  # the next job is measured afresh
    now[0] = 500.0
    bar.show_progress(Progress(5, 10, "c.png"))
    assert bar.format() == "c.png"
    assert [format_duration(s) for s in (0.4, 59, 75, 3725)] == ["0 s", "59 s", "1 min 15 s", "1 h 02 min"]


def test_latest_drops_an_older_answer_and_keeps_the_newest():
    latest, shown = Latest(), []
    first = latest.next()
    second = latest.next()  # the user asked again before the first answer came
    answer_first, answer_second = latest.if_current(first, shown.append), latest.if_current(second, shown.append)
    answer_second("second folder")
    answer_first("first folder")  # the slower, older request answers last
    assert shown == ["second folder"]
    assert latest.is_current(second) and not latest.is_current(first)


def test_latest_with_real_workers_keeps_the_newest_whatever_order_they_finish_in(qtbot):
    registry, latest, shown = WorkerRegistry(), Latest(), []
    older_may_finish = threading.Event()

    def slow(name: str) -> str:
        assert older_may_finish.wait(GATE_S)
        return name

    older = latest.next()
    registry.start("older", slow, "older", returned=latest.if_current(older, shown.append))
    newer = latest.next()
    with qtbot.waitSignal(registry.idle, timeout=WAIT_MS):
        registry.start("newer", lambda: "newer", returned=latest.if_current(newer, shown.append))
        qtbot.waitUntil(lambda: shown == ["newer"], timeout=WAIT_MS)
        older_may_finish.set()
    assert shown == ["newer"]

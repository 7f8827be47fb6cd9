"""The job plumbing every long task goes through: run_to_end and relay."""

from __future__ import annotations

import pytest

from camviewer.core.errors import Cancelled
from camviewer.core.jobs import CancelToken, Progress, relay, run_to_end


def counting_job(n: int, closed: list, cancel: CancelToken | None = None):
    try:
        for done in range(1, n + 1):
            if cancel is not None:
                cancel.raise_if_cancelled()
            yield Progress(done, n, f"step {done}", payload=done * done)
        return sum(range(1, n + 1))
    finally:
        closed.append(True)


def test_run_to_end_returns_the_value_and_sees_every_event():
    seen, closed = [], []
    assert run_to_end(counting_job(4, closed), lambda event: seen.append(event.payload)) == 10
    assert seen == [1, 4, 9, 16] and closed == [True]


def test_relay_maps_and_drops_events_and_returns_the_jobs_value():
    closed = []
    relayed = relay(counting_job(5, closed), lambda event: event.payload if event.done % 2 else None)
    assert run_to_end(relayed, None) == 15
    events = []
    assert run_to_end(relay(counting_job(5, []), lambda event: event.done * 10), events.append) == 15
    assert events == [10, 20, 30, 40, 50] and closed == [True]


def test_closing_a_relay_closes_the_job_and_cancel_propagates():
    closed = []
    relayed = relay(counting_job(100, closed), lambda event: event)
    assert next(relayed).done == 1
    relayed.close()
    assert closed == [True]  # the job's own clean-up ran
    token = CancelToken()
    relayed = relay(counting_job(100, [], token), lambda event: event)
    next(relayed)
    token.cancel()
    with pytest.raises(Cancelled):
        next(relayed)

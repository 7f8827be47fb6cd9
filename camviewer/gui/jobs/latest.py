"""Latest request wins: each request takes a ticket, and only the answer to the newest ticket is used.

    ticket = self._scans.next()
    registry.start(..., returned=self._scans.if_current(ticket, self._previewed))

Workers cannot always be stopped at once, so an older request may answer after a newer one; its
answer must not replace what the user asked for last (another folder, image, model or option).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Latest:
    def __init__(self) -> None:
        self._ticket = 0

    def next(self) -> int:
        """A ticket for a new request; every older ticket is stale from now on."""
        self._ticket += 1
        return self._ticket

    def is_current(self, ticket: int) -> bool:
        return ticket == self._ticket

    def if_current(self, ticket: int, callback: Callable[..., Any]) -> Callable[..., None]:
        """``callback``, called only while ``ticket`` is still the newest one (stale answers are dropped)."""

        def answer(*args: Any) -> None:
            if ticket == self._ticket:
                callback(*args)

        return answer

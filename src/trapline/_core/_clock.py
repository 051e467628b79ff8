"""Clocks: the wall clock ``run()`` uses by default, and a virtual clock for tests.

A clock answers two questions: what time is it (``current_time``), and how many *real* seconds may
the kernel block waiting for I/O when the next deadline is ``deadline`` (``deadline_to_sleep``).
The virtual clock with autojump answers the second by jumping straight to the deadline, so a
program that sleeps for an hour runs in no wall time with exact virtual times.
"""

from __future__ import annotations

import math
import time
from typing import Protocol, final, runtime_checkable

__all__ = ["Clock", "SystemClock", "VirtualClock"]


@runtime_checkable
class Clock(Protocol):
    """What ``trapline.run(..., clock=)`` accepts."""

    def current_time(self) -> float: ...

    def deadline_to_sleep(self, deadline: float) -> float: ...


@final
class SystemClock:
    """Monotonic wall-clock time (``time.monotonic``)."""

    __slots__ = ()

    def current_time(self) -> float:
        return time.monotonic()

    def deadline_to_sleep(self, deadline: float) -> float:
        return deadline - time.monotonic()

    def __repr__(self) -> str:
        return "SystemClock()"


@final
class VirtualClock:
    """A clock that only moves when told to, or, with ``autojump``, whenever all tasks wait.

    ``VirtualClock(autojump=True)``: when no task is ready to run, time jumps to the next deadline
    at once. ``jump(seconds)`` moves time forward by hand. Time starts at ``start`` (default 0.0),
    so a test can assert exact times such as ``current_time() == 6.0``.
    """

    __slots__ = ("_now", "autojump")

    def __init__(self, *, autojump: bool = True, start: float = 0.0) -> None:
        self._now = float(start)
        self.autojump = autojump

    def current_time(self) -> float:
        return self._now

    def jump(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (>= 0); deadlines reached fire at the next loop pass."""
        if seconds < 0 or math.isnan(seconds):
            raise ValueError(f"time can only move forward, not by {seconds!r}")
        self._now += seconds

    def jump_to(self, when: float) -> None:
        """Move time forward to ``when`` (no-op if already past it)."""
        self._now = max(self._now, when)

    def deadline_to_sleep(self, deadline: float) -> float:
        if self.autojump:
            if deadline != math.inf:
                self.jump_to(deadline)
                return 0.0
            # Nothing scheduled: only I/O or another thread can wake the run; block for it.
            return math.inf
        # Time moves only by jump(); block on I/O as if the deadline were far away.
        return math.inf if deadline == math.inf else 86400.0

    def __repr__(self) -> str:
        return f"VirtualClock(autojump={self.autojump}, now={self._now:g})"

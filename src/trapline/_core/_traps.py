"""The one trap: the only bare ``yield`` in trapline, and the messages it carries.

A coroutine talks to the scheduler exactly the way the seed tutorial's ``manual_sleep`` does: it
yields an instruction and waits to be sent a value. trapline has two instructions:

* ``CHECKPOINT``: "let others run, then resume me" (and raise ``Cancelled`` if my scope says so);
* a ``Park`` message: "put me to sleep until somebody reschedules me, or until ``deadline``"
  (or for ``delay`` seconds from when the scheduler reads the message, which is how ``sleep``
  works without asking anybody what time it is).
  It names a wait reason (shown by ``Stepper`` and ``tasks()``) and an optional abort callback the
  kernel calls to undo the registration when the task is cancelled while parked.

The scheduler answers by *sending* the next value. An error is sent wrapped in ``Raise``, which
the trap unwraps and raises inside the task (curio ``traps.py``, trio's outcomes): ``coro.throw``
is never used on the hot path.

The messages have readable reprs, because a human driving a coroutine by hand with
``coro.send(None)`` sees them, and because asyncio (which rejects foreign yields with
``RuntimeError: Task got bad yield: ...``) prints them when a trapline awaitable is awaited outside
``trapline.run``.
"""

from __future__ import annotations

import enum
import math
import types
from collections.abc import Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any, final

if TYPE_CHECKING:
    from ._task import Task

__all__ = ["CHECKPOINT", "Abort", "AbortFn", "Park", "Raise", "checkpoint", "trap"]


class Abort(enum.Enum):
    """What an abort callback tells the kernel when a parked task is cancelled."""

    #: The wait was undone; the kernel resumes the task with ``Cancelled``.
    SUCCEEDED = "succeeded"
    #: The wait cannot be undone now; whoever completes it will reschedule the task, and the
    #: cancellation is delivered at the task's next checkpoint (cancellation is level-triggered).
    FAILED = "failed"


AbortFn = Callable[["Task"], Abort]


@final
class _Checkpoint:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<trapline trap: checkpoint (yield to the scheduler; run me in trapline.run)>"


#: Yielded by a task at a checkpoint; also sent back by the run loop to mark a resume from one.
CHECKPOINT: Any = _Checkpoint()


@final
class Park:
    """Trap message: park the current task until it is rescheduled or ``deadline`` passes."""

    __slots__ = ("abort_fn", "deadline", "delay", "reason")

    def __init__(
        self,
        reason: object,
        abort_fn: AbortFn | None = None,
        deadline: float = math.inf,
        delay: float | None = None,
    ) -> None:
        self.reason = reason
        self.abort_fn = abort_fn
        self.deadline = deadline
        self.delay = delay

    def __repr__(self) -> str:
        if self.delay is not None:
            until = f" for {self.delay:g} s"
        elif self.deadline != math.inf:
            until = f" until t={self.deadline:g}"
        else:
            until = ""
        return f"<trapline trap: park ({self.reason}{until}); run me in trapline.run>"


@final
class Raise:
    """An error the scheduler sends into a task; the trap raises it there."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


@types.coroutine
def trap(message: object) -> Generator[object, object, Any]:
    """Yield ``message`` to the scheduler and return (or raise) what it sends back."""
    value = yield message
    if type(value) is Raise:
        error = value.error
        try:
            raise error
        finally:
            # The traceback references this frame: drop the locals that would make a cycle.
            del error, value
    return value


def checkpoint() -> Awaitable[None]:
    """Let other tasks run, and raise ``Cancelled`` if the current task's scope is cancelled.

    Checkpoint: yes (this is the primitive checkpoint). Raises ``Cancelled`` when an enclosing
    cancel scope has been cancelled. It is a plain function returning the trap itself, so the
    cheapest checkpoint costs one generator and no extra coroutine frame.
    """
    return trap(CHECKPOINT)

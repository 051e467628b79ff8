"""The one trap: the only bare ``yield`` in trapline, and the messages it carries.

A coroutine talks to the scheduler exactly the way the seed tutorial's ``manual_sleep`` does: it
yields an instruction and waits to be sent a value. trapline has two instructions:

* ``CHECKPOINT``: "let others run, then resume me" (and raise ``Cancelled`` if my scope says so);
* a ``Park`` message: "put me to sleep until somebody reschedules me, or until ``deadline``";
* a ``Delay`` (a float): "park me for this many seconds", which is ``sleep``. It is a message of
  its own because it is the commonest park by far: 32 bytes instead of a ``Park`` per sleeper,
  and no need to ask what time it is before yielding.
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

__all__ = [
    "CHECKPOINT",
    "SLEEPING",
    "YIELD",
    "Abort",
    "AbortFn",
    "Delay",
    "Park",
    "Raise",
    "checkpoint",
    "trap",
    "trap_iter",
]


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
class _Yield:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<trapline trap: yield (let others run; run me in trapline.run)>"


#: Yielded for a schedule point that does not check for cancellation.
YIELD: Any = _Yield()


@final
class Park:
    """Trap message: park the current task until it is rescheduled or ``deadline`` passes."""

    __slots__ = ("abort_fn", "deadline", "reason")

    def __init__(
        self, reason: object, abort_fn: AbortFn | None = None, deadline: float = math.inf
    ) -> None:
        self.reason = reason
        self.abort_fn = abort_fn
        self.deadline = deadline

    def __repr__(self) -> str:
        until = "" if self.deadline == math.inf else f" until t={self.deadline:g}"
        return f"<trapline trap: park ({self.reason}{until}); run me in trapline.run>"


@final
class Delay(float):
    """Trap message: park the current task for this many seconds (what ``sleep`` yields)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<trapline trap: sleep for {float(self):g} s; run me in trapline.run>"


#: The wait record of every task parked by a ``Delay`` (its deadline is in its timer entry).
SLEEPING = Park("sleep")


@final
class Raise:
    """An error the scheduler sends into a task; the trap raises it there."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


def trap_iter(message: object) -> Generator[object, object, Any]:
    """Yield ``message`` to the scheduler and return (or raise) what it sends back.

    This plain-generator form is what an ``__await__`` method returns (Python refuses a
    coroutine there); ``trap`` below is the same code flagged as an awaitable coroutine.
    """
    value = yield message
    if type(value) is Raise:
        error = value.error
        try:
            raise error
        finally:
            # The traceback references this frame: drop the locals that would make a cycle.
            del error, value
    return value


trap: Callable[[object], Awaitable[Any]] = types.coroutine(
    types.FunctionType(trap_iter.__code__, trap_iter.__globals__, "trap")
)


def checkpoint() -> Awaitable[None]:
    """Let other tasks run, and raise ``Cancelled`` if the current task's scope is cancelled.

    Checkpoint: yes (this is the primitive checkpoint). Raises ``Cancelled`` when an enclosing
    cancel scope has been cancelled. It is a plain function returning the trap itself, so the
    cheapest checkpoint costs one generator and no extra coroutine frame.
    """
    return trap(CHECKPOINT)

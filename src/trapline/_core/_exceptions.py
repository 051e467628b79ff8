"""Exceptions raised by the kernel and by everything built on it.

``Cancelled`` is a ``BaseException`` so that ``except Exception`` does not swallow it: a
cancellation must travel up to the cancel scope that asked for it. Everything else is an ordinary
``Exception`` subclass.
"""

from __future__ import annotations

from typing import final

__all__ = [
    "BrokenResourceError",
    "BusyResourceError",
    "Cancelled",
    "ClosedResourceError",
    "DeadlockError",
    "EndOfChannel",
    "RunFinishedError",
    "TaskCancelled",
    "WouldBlock",
]


@final
class Cancelled(BaseException):
    """Raised at a checkpoint inside a cancel scope that has been cancelled.

    Do not catch it to carry on: let it propagate to the scope that was cancelled, which absorbs
    it. ``reason`` says why the scope was cancelled and ``where`` names the ``file:line`` where the
    cancel was requested (or ``"deadline"`` when a deadline expired). Only the kernel creates it.
    """

    __slots__ = ("reason", "where")

    reason: str | None
    where: str | None

    def __init__(self, reason: str | None = None, where: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.where = where

    def __str__(self) -> str:
        text = "cancelled"
        if self.reason:
            text += f": {self.reason}"
        if self.where:
            text += f" (requested at {self.where})"
        return text

    def __reduce__(self) -> tuple[object, ...]:
        return (Cancelled, (self.reason, self.where))


class TaskCancelled(Exception):
    """The task whose result was asked for ended by being cancelled, so it has no result."""


class WouldBlock(Exception):
    """An ``*_nowait`` operation could not complete without waiting."""


class ClosedResourceError(Exception):
    """The resource was closed (by this task, another task, or while a task was waiting on it)."""


class BrokenResourceError(Exception):
    """The resource is unusable because of an error on the other side (for example a peer reset)."""


class BusyResourceError(Exception):
    """Two tasks tried to use a resource that allows only one user at a time."""


class EndOfChannel(Exception):
    """The sending side of a channel was closed and everything sent has been received."""


class DeadlockError(RuntimeError):
    """Every task is waiting and nothing (no deadline, no I/O, no other thread, no signal) can
    ever wake one. ``trapline.run`` cancels everything so cleanup runs, then raises this; the
    message lists each task and what it waits for."""


class RunFinishedError(RuntimeError):
    """The ``trapline.run`` that a handle belonged to has already finished."""


_ASYNCIO_HINT = (
    "asyncio code does not run directly inside trapline.run(): await it through "
    "trapline.aio.run_asyncio(coro) (see docs/asyncio.md), or use trapline's own "
    "equivalent (trapline.sleep for asyncio.sleep)"
)


def explain_foreign_error(error: BaseException) -> None:
    """Add a note saying what to do to the errors asyncio raises when it is used inside
    trapline.run() without trapline.aio. Called on the error path of a finished task only."""
    if (
        type(error) is RuntimeError
        and error.args == ("no running event loop",)
        and _ASYNCIO_HINT not in getattr(error, "__notes__", ())
    ):
        error.add_note(_ASYNCIO_HINT)

"""Readiness waits on file descriptors: the kernel's whole knowledge of I/O.

Socket wrappers try the system call first and only on ``BlockingIOError`` wait here, then retry.
The kernel does not know what a socket is; it knows fds and readiness.
"""

from __future__ import annotations

from collections.abc import Callable

from ._io import FdLike, IOStatistics
from ._run import Runner, current_runner

__all__ = [
    "add_reader",
    "add_writer",
    "io_statistics",
    "notify_closing",
    "remove_reader",
    "remove_writer",
    "wait_readable",
    "wait_writable",
]


def _fileno(obj: int | FdLike) -> int:
    return obj if isinstance(obj, int) else obj.fileno()


async def wait_readable(obj: int | FdLike) -> None:
    """Wait until ``obj`` (a socket or an fd) is readable (or has an error or hung up).

    Checkpoint: yes (it always parks until an event arrives). Raises ``BusyResourceError`` if
    another task already waits to read the same fd, ``ClosedResourceError`` if the fd is closed
    through ``notify_closing`` meanwhile, and ``Cancelled``, which simply ends the wait.
    """
    runner = current_runner()
    task = runner.current_task
    if task is None:
        raise RuntimeError("wait_readable() must be awaited from a task")
    await runner.backend._wait(_fileno(obj), task, True)


async def wait_writable(obj: int | FdLike) -> None:
    """Wait until ``obj`` is writable (or has an error). Checkpoint: yes. Raises and
    cancellation as for ``wait_readable``."""
    runner = current_runner()
    task = runner.current_task
    if task is None:
        raise RuntimeError("wait_writable() must be awaited from a task")
    await runner.backend._wait(_fileno(obj), task, False)


def add_reader(obj: int | FdLike, callback: Callable[[], object]) -> None:
    """Call ``callback()`` each time the kernel's poll finds ``obj`` readable (level-triggered:
    again at every poll while it stays readable), until ``remove_reader(obj)`` or
    ``notify_closing(obj)``. Not a checkpoint.

    For code that multiplexes many fds itself (trapline's asyncio loop does): no task per fd.
    The callback runs inside the run loop, outside any task, between task steps: it must be
    quick and must not block; to get work done it wakes a task (``reschedule``). An exception
    from it ends the run, and ``trapline.run`` raises it. ``BusyResourceError`` if a task waits
    in ``wait_readable`` on the same fd or a reader is already added.
    """
    runner = current_runner()
    runner.backend.watch(_fileno(obj), True, _guarded(runner, callback, "add_reader"))


def add_writer(obj: int | FdLike, callback: Callable[[], object]) -> None:
    """As ``add_reader``, for writability. Not a checkpoint."""
    runner = current_runner()
    runner.backend.watch(_fileno(obj), False, _guarded(runner, callback, "add_writer"))


def remove_reader(obj: int | FdLike) -> None:
    """Stop calling the ``add_reader`` callback of ``obj`` (nothing if there is none). Not a
    checkpoint."""
    current_runner().backend.watch(_fileno(obj), True, None)


def remove_writer(obj: int | FdLike) -> None:
    """Stop calling the ``add_writer`` callback of ``obj``. Not a checkpoint."""
    current_runner().backend.watch(_fileno(obj), False, None)


def _guarded(runner: Runner, callback: Callable[[], object], kind: str) -> Callable[[], None]:
    def call() -> None:
        try:
            callback()
        except BaseException as error:
            runner.callback_failed(error, kind)

    return call


def notify_closing(obj: int | FdLike) -> None:
    """Call right before closing ``obj``: tasks waiting on it get ``ClosedResourceError`` and the
    kernel forgets the fd, so a new file reusing the number starts clean. Not a checkpoint."""
    current_runner().backend.notify_closing(_fileno(obj))


def io_statistics() -> IOStatistics:
    """What the I/O backend is doing now. Not a checkpoint."""
    stats: IOStatistics = current_runner().backend.statistics()
    return stats

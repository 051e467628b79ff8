"""Readiness waits on file descriptors: the kernel's whole knowledge of I/O.

Socket wrappers try the system call first and only on ``BlockingIOError`` wait here, then retry.
The kernel does not know what a socket is; it knows fds and readiness.
"""

from __future__ import annotations

from ._io import FdLike, IOStatistics
from ._run import current_runner

__all__ = ["io_statistics", "notify_closing", "wait_readable", "wait_writable"]


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


def notify_closing(obj: int | FdLike) -> None:
    """Call right before closing ``obj``: tasks waiting on it get ``ClosedResourceError`` and the
    kernel forgets the fd, so a new file reusing the number starts clean. Not a checkpoint."""
    current_runner().backend.notify_closing(_fileno(obj))


def io_statistics() -> IOStatistics:
    """What the I/O backend is doing now. Not a checkpoint."""
    stats: IOStatistics = current_runner().backend.statistics()
    return stats

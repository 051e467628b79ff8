"""The I/O backend: where the kernel blocks when no task is ready, and readiness waits.

The kernel talks to a backend through a narrow interface (trio ``_io_epoll.py``):
``wait_readable(fd)`` / ``wait_writable(fd)`` park the current task until the fd is ready,
``notify_closing(fd)`` wakes its waiters with ``ClosedResourceError``, ``get_events(timeout)``
blocks at most ``timeout`` seconds, ``process_events(events)`` reschedules the tasks they wake,
``force_wakeup()`` interrupts a blocked ``get_events`` from a signal handler or another thread,
``idle`` says whether polling could find anything (so a busy loop with no fds of interest skips
the system call), ``statistics()`` and ``close()``.

Some facts about epoll this relies on:

* Interest is level-triggered and **kept registered between waits**: a task that waits to read,
  reads and waits again costs no ``epoll_ctl`` (measured here: re-arming per wait, as one-shot
  does, costs about 10% on a ping-pong). An event that arrives while nobody waits in that
  direction leaves a readiness *hint*, so the next wait returns at once without a trip through
  ``epoll_wait``; in request/response traffic the next request usually lands before the handler
  waits again, so this is the common case. Only when the same fd is reported again with still
  nobody waiting *and* the loop had nothing else to do (its poll was allowed to block) is the
  interest dropped, so a readable socket that nobody reads cannot spin the loop, while a busy
  server never pays an ``epoll_ctl`` per request. (Edge-triggered epoll was tried and rejected:
  a stream that waits before reading after a short read, the other measured optimisation, can
  miss data or an end of stream that arrived in the same edge as the bytes it just read.)
* ``EPOLLERR`` and ``EPOLLHUP`` are reported whatever the mask; both wake readers and writers,
  whose next system call then reports the error or end of stream.
* epoll tracks open file *descriptions*, not fd numbers, and forgets one only when its last fd
  closes. A socket must therefore be closed through trapline (which calls ``notify_closing``
  first) so our table and the kernel's agree when the fd number is reused.
* A signal arriving while we block in ``epoll_wait`` runs the Python-level handler (PEP 475
  retries the wait afterwards), so the handler writes a byte to the wake-up socket.
"""

from __future__ import annotations

import math
import select
import selectors
import socket
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, final

from ._exceptions import BusyResourceError, ClosedResourceError
from ._traps import CHECKPOINT, Abort, Park, Raise, trap

if TYPE_CHECKING:
    from ._task import Task

__all__ = [
    "EpollBackend",
    "FakeBackend",
    "FdLike",
    "IOStatistics",
    "SelectorBackend",
    "make_backend",
]


class FdLike(Protocol):
    def fileno(self) -> int: ...


@dataclass(frozen=True)
class IOStatistics:
    """``backend``: which one; ``registered_fds``: fds with interest; ``tasks_waiting``."""

    backend: str
    registered_fds: int
    tasks_waiting: int


@final
class _Waiters:
    __slots__ = ("mask", "read_hint", "reader", "unwanted", "write_hint", "writer")

    def __init__(self) -> None:
        self.reader: Task | None = None
        self.writer: Task | None = None
        self.mask = 0  # interest currently registered with the OS (0: not registered)
        # An event arrived while nobody waited in that direction (see the essay).
        self.read_hint = False
        self.write_hint = False
        self.unwanted = 0  # consecutive reports with nobody waiting


class _Backend:
    """What every backend shares: the waiter table, the wake-up socket, the waits."""

    _IN: int
    _OUT: int
    _ERR: int

    def __init__(self) -> None:
        self._records: dict[int, _Waiters] = {}
        self._wake_send, self._wake_recv = socket.socketpair()
        self._wake_send.setblocking(False)
        self._wake_recv.setblocking(False)
        self._wake_fd = self._wake_recv.fileno()
        #: True while no fd other than the wake-up socket has interest registered.
        self.idle = True
        self._blocking = False  # the last poll was allowed to block

    # -- subclass hooks ------------------------------------------------------------------------

    def _register(self, fd: int, old: int, new: int) -> None:
        raise NotImplementedError

    # -- waiting -------------------------------------------------------------------------------

    async def _wait(self, fd: int, task: Task, reading: bool) -> None:
        if task._cancel_pending:
            # Raise Cancelled without touching the table: its owner may have called
            # notify_closing already and be about to close the fd, and interest registered now
            # would outlive the description, so a new socket reusing the fd number would never
            # be reported (asyncio's loop on trapline hit this at every peer EOF).
            await trap(CHECKPOINT)
        record = self._records.get(fd)
        if record is None:
            record = self._records[fd] = _Waiters()
        record.unwanted = 0  # its owner came back for it
        # A hint is used up when the checkpoint returns, not before it: the caller's system
        # call, made right then, sees everything reported so far, including a report of the
        # same unread bytes during the checkpoint (clearing it first would leave that one as a
        # stale hint: a failed recv per message in ping-pong). If the checkpoint raises
        # Cancelled the hint stays, since the caller will not make its system call.
        if reading and record.read_hint:
            await trap(CHECKPOINT)
            record.read_hint = False
            return
        if not reading and record.write_hint:
            await trap(CHECKPOINT)
            record.write_hint = False
            return
        if reading:
            if record.reader is not None:
                raise BusyResourceError("another task is already waiting to read from this fd")
            record.reader = task
            bit = self._IN
        else:
            if record.writer is not None:
                raise BusyResourceError("another task is already waiting to write to this fd")
            record.writer = task
            bit = self._OUT
        if not record.mask & bit:
            try:
                self._register(fd, record.mask, record.mask | bit)
            except BaseException:
                if reading:
                    record.reader = None
                else:
                    record.writer = None
                raise
            record.mask |= bit
            self.idle = False
        await trap(Park(_Reason(fd, reading), self._abort))

    def _abort(self, task: Task) -> Abort:
        wait = task._wait
        assert wait is not None
        reason: _Reason = wait.reason  # type: ignore[assignment]
        record = self._records.get(reason.fd)
        if record is not None:
            if reason.reading and record.reader is task:
                record.reader = None
            elif not reason.reading and record.writer is task:
                record.writer = None
        return Abort.SUCCEEDED

    def notify_closing(self, fd: int) -> None:
        record = self._records.pop(fd, None)
        if record is None:
            return
        if record.mask:
            try:
                self._register(fd, record.mask, 0)
            except OSError:
                pass  # already closed under us: the OS dropped it itself
        self.idle = not self._records
        for task in (record.reader, record.writer):
            if task is not None:
                error = ClosedResourceError("another task closed this socket while it was waiting")
                task._runner.wake(task, Raise(error))

    def process_events(self, events: list[tuple[int, int]]) -> None:
        records = self._records
        read_bits = self._IN | self._ERR
        write_bits = self._OUT | self._ERR
        for fd, flags in events:
            if fd == self._wake_fd:
                self._drain_wakeup()
                continue
            record = records.get(fd)
            if record is None:
                continue
            unwanted = 0
            if flags & read_bits:
                task = record.reader
                if task is not None:
                    record.reader = None
                    task._runner.wake(task, None)
                else:
                    record.read_hint = True
                    unwanted |= self._IN
            if flags & write_bits:
                task = record.writer
                if task is not None:
                    record.writer = None
                    task._runner.wake(task, None)
                else:
                    record.write_hint = True
                    unwanted |= self._OUT
            if unwanted & record.mask:
                record.unwanted += 1
                if record.unwanted >= 2 and self._blocking:
                    # Reported again with nobody waiting, and the loop had nothing else to do:
                    # level-triggered interest would make it spin. Drop the interest; the
                    # owner's next wait re-registers. (While tasks are running the poll does
                    # not block, so a busy owner about to read costs nothing.)
                    new = record.mask & ~unwanted
                    self._register(fd, record.mask, new)
                    record.mask = new
                    record.unwanted = 0
                    if (
                        not (new or record.reader or record.writer or record.read_hint)
                        and not record.write_hint
                    ):
                        del records[fd]
                        self.idle = not records

    # -- the rest of the interface -------------------------------------------------------------

    def _drain_wakeup(self) -> None:
        try:
            while self._wake_recv.recv(4096):
                pass
        except BlockingIOError:
            pass

    def force_wakeup(self) -> None:
        try:
            self._wake_send.send(b"\0")
        except OSError:
            pass  # full of wake-ups already (or closing): the loop will wake anyway

    def statistics(self) -> IOStatistics:
        waiting = sum(
            (r.reader is not None) + (r.writer is not None) for r in self._records.values()
        )
        registered = sum(1 for r in self._records.values() if r.mask)
        return IOStatistics(type(self).__name__, registered, waiting)

    def _close_wakeup(self) -> None:
        self._wake_send.close()
        self._wake_recv.close()


@final
class _Reason:
    """The wait reason of a task blocked on an fd (readable in task listings)."""

    __slots__ = ("fd", "reading")

    def __init__(self, fd: int, reading: bool) -> None:
        self.fd = fd
        self.reading = reading

    def __str__(self) -> str:
        return f"fd {self.fd} {'readable' if self.reading else 'writable'}"


if sys.platform == "linux":

    @final
    class EpollBackend(_Backend):
        _IN = select.EPOLLIN
        _OUT = select.EPOLLOUT
        _ERR = select.EPOLLERR | select.EPOLLHUP

        def __init__(self) -> None:
            super().__init__()
            self._epoll = select.epoll()
            self._epoll.register(self._wake_fd, select.EPOLLIN)

        def _register(self, fd: int, old: int, new: int) -> None:
            if not new:
                self._epoll.unregister(fd)
            elif not old:
                self._epoll.register(fd, new)
            else:
                self._epoll.modify(fd, new)

        def get_events(self, timeout: float) -> list[tuple[int, int]]:
            self._blocking = timeout > 0
            if timeout == math.inf:
                return self._epoll.poll(-1, 1024)
            return self._epoll.poll(max(timeout, 0.0), 1024)

        def close(self) -> None:
            self._epoll.close()
            self._close_wakeup()


@final
class SelectorBackend(_Backend):
    """Portable fallback on ``selectors.DefaultSelector``; same semantics as the epoll one."""

    _IN = selectors.EVENT_READ
    _OUT = selectors.EVENT_WRITE
    _ERR = 0  # selectors folds errors into read/write readiness

    def __init__(self) -> None:
        super().__init__()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._wake_fd, selectors.EVENT_READ)

    def _register(self, fd: int, old: int, new: int) -> None:
        if not new:
            self._selector.unregister(fd)
        elif not old:
            self._selector.register(fd, new)
        else:
            self._selector.modify(fd, new)

    def get_events(self, timeout: float) -> list[tuple[int, int]]:
        self._blocking = timeout > 0
        wait = None if timeout == math.inf else max(timeout, 0.0)
        return [(key.fd, mask) for key, mask in self._selector.select(wait)]

    def close(self) -> None:
        self._selector.close()
        self._close_wakeup()


@final
class FakeBackend(_Backend):
    """An I/O backend for deterministic tests: no real fds are watched.

    ``trapline.run(main, backend=FakeBackend())``; tasks wait on fd numbers as usual and the
    test says when they become ready with ``set_readable(fd)`` / ``set_writable(fd)`` (from a
    task or a ``Token.run_sync_soon`` callback). Blocking with nothing pending and no deadline
    would wait forever, so it raises instead.
    """

    _IN = 1
    _OUT = 4
    _ERR = 8

    def _register(self, fd: int, old: int, new: int) -> None:
        pass  # nothing to tell an OS

    # Readiness takes effect at once (the waiting task becomes ready at this very time), so
    # the virtual clock cannot run past it.

    def set_readable(self, fd: int) -> None:
        self.process_events([(fd, self._IN)])

    def set_writable(self, fd: int) -> None:
        self.process_events([(fd, self._OUT)])

    def set_error(self, fd: int) -> None:
        self.process_events([(fd, self._ERR)])

    def get_events(self, timeout: float) -> list[tuple[int, int]]:
        self._blocking = timeout > 0
        if timeout == math.inf and self._records:
            waiting = ", ".join(str(fd) for fd in self._records)
            raise RuntimeError(f"FakeBackend: tasks wait on fds {waiting} and nothing is pending")
        return []

    def force_wakeup(self) -> None:
        pass

    def close(self) -> None:
        self._close_wakeup()


def make_backend() -> Any:
    """The best backend for this platform."""
    if sys.platform == "linux":
        return EpollBackend()
    return SelectorBackend()

"""The I/O backend: where the kernel blocks when no task is ready.

The kernel talks to it through a narrow interface (trio ``_io_epoll.py``): ``get_events(timeout)``
blocks for at most ``timeout`` seconds, ``process_events(events)`` reschedules the tasks they wake,
``force_wakeup()`` interrupts a blocked ``get_events`` from a signal handler or another thread,
``idle`` says whether polling could find anything at all (so a busy loop with no file descriptors
of interest skips the system call), ``statistics()`` and ``close()``.

Facts this relies on: ``selectors.DefaultSelector`` is epoll on Linux; a signal arriving while we
block in ``epoll_wait`` runs the Python-level handler (PEP 475 then retries the wait), so the
handler writes a byte to the wake-up socket to make the wait return.
"""

from __future__ import annotations

import math
import selectors
import socket
from dataclasses import dataclass
from typing import final

__all__ = ["IOStatistics", "SelectorBackend"]


@dataclass(frozen=True)
class IOStatistics:
    backend: str
    registered_fds: int


@final
class SelectorBackend:
    __slots__ = ("_selector", "_wake_recv", "_wake_send", "idle")

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._wake_send, self._wake_recv = socket.socketpair()
        self._wake_send.setblocking(False)
        self._wake_recv.setblocking(False)
        self._selector.register(self._wake_recv, selectors.EVENT_READ, None)
        # True while no file descriptor other than the wake-up socket is registered.
        self.idle = True

    def get_events(self, timeout: float) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout == math.inf:
            timeout_arg: float | None = None
        else:
            timeout_arg = max(timeout, 0.0)
        return self._selector.select(timeout_arg)

    def process_events(self, events: list[tuple[selectors.SelectorKey, int]]) -> None:
        for key, _mask in events:
            if key.data is None:
                self._drain_wakeup()

    def _drain_wakeup(self) -> None:
        try:
            while self._wake_recv.recv(4096):
                pass
        except BlockingIOError:
            pass

    def force_wakeup(self) -> None:
        try:
            self._wake_send.send(b"\0")
        except (BlockingIOError, OSError):
            # Already full of wake-ups (or closing): the loop will wake anyway.
            pass

    def statistics(self) -> IOStatistics:
        return IOStatistics(
            backend=type(self._selector).__name__, registered_fds=len(self._selector.get_map()) - 1
        )

    def close(self) -> None:
        self._selector.close()
        self._wake_send.close()
        self._wake_recv.close()

    def __repr__(self) -> str:
        return f"<SelectorBackend {type(self._selector).__name__}>"

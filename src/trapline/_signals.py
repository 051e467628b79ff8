"""``open_signal_receiver``: receive Unix signals as an async iterator.

The handler only queues the signal number through the run's token; the receiving task sees it at
a checkpoint, never in the middle of other work. Repeated deliveries of the same signal before it
is received are coalesced, as the OS does for pending signals.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, final

from .lowlevel import ParkingLot, checkpoint, current_token

__all__ = ["SignalReceiver", "open_signal_receiver"]


@final
class SignalReceiver:
    """``async for signum in receiver``; or ``await receiver.receive()``."""

    def __init__(self) -> None:
        self._pending: dict[int, None] = {}
        self._lot = ParkingLot("waiting for a signal")
        self._closed = False

    def _deliver(self, signum: int) -> None:
        if not self._closed:
            self._pending[signum] = None
            self._lot.unpark_all()

    async def receive(self) -> int:
        """The next signal number (oldest first). Checkpoint: yes. Cancellation: nothing lost."""
        if self._pending:
            await checkpoint()
        while not self._pending:
            await self._lot.park()
        signum = next(iter(self._pending))
        del self._pending[signum]
        return signum

    def __aiter__(self) -> AsyncIterator[int]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[int]:
        while True:
            yield await self.receive()


@contextmanager
def open_signal_receiver(*signums: int) -> Iterator[SignalReceiver]:
    """Route ``signums`` to a ``SignalReceiver`` while the ``with`` block runs; the previous
    handlers come back afterwards. Main thread only (``RuntimeError`` elsewhere)."""
    if not signums:
        raise TypeError("open_signal_receiver() needs at least one signal")
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("signal handlers can only be installed from the main thread")
    token = current_token()
    receiver = SignalReceiver()

    def handler(signum: int, frame: FrameType | None) -> None:
        token.run_sync_soon(receiver._deliver, signum)

    previous: dict[int, Any] = {}
    try:
        for signum in signums:
            previous[signum] = signal.signal(signum, handler)
        yield receiver
    finally:
        receiver._closed = True
        for signum, old in previous.items():
            signal.signal(signum, old)

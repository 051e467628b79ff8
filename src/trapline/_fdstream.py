"""``FdStream``: a ``Stream`` over a file descriptor such as a pipe (subprocess stdio).

The fd is switched to non-blocking mode; reads and writes try ``os.read``/``os.write`` first
and wait for readiness only when they would block, like sockets.
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING

from ._core import BrokenResourceError, BusyResourceError, ClosedResourceError
from ._streams import Stream
from .lowlevel import (
    cancel_shielded_checkpoint,
    checkpoint_if_cancelled,
    notify_closing,
    wait_readable,
    wait_writable,
)

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = ["FdStream"]


class FdStream(Stream):
    """A stream over an fd it owns (closes it on ``aclose``)."""

    __slots__ = ("_fd", "_sending")

    def __init__(self, fd: int) -> None:
        super().__init__()
        os.set_blocking(fd, False)
        self._fd = fd
        self._sending = False

    def fileno(self) -> int:
        return self._fd

    def __repr__(self) -> str:
        return f"<FdStream fd={self._fd}>"

    def _live_fd(self) -> int:
        if self._fd < 0:
            raise ClosedResourceError("this stream was closed")
        return self._fd

    async def _receive_some(self, max_bytes: int) -> bytes:
        fd = self._live_fd()
        await checkpoint_if_cancelled()
        waited = False
        while True:
            try:
                data = os.read(fd, max_bytes)
            except BlockingIOError:
                await wait_readable(fd)
                fd = self._live_fd()
                waited = True
                continue
            except OSError as error:
                if error.errno == errno.EBADF:
                    raise ClosedResourceError("this stream was closed") from None
                raise BrokenResourceError(f"read failed: {error}") from error
            if not waited:
                await cancel_shielded_checkpoint()
            return data

    async def send_all(self, data: ReadableBuffer) -> None:
        fd = self._live_fd()
        if self._sending:
            raise BusyResourceError("another task is already sending on this stream")
        self._sending = True
        try:
            await checkpoint_if_cancelled()
            with memoryview(data) as view:
                sent = 0
                while sent < len(view):
                    try:
                        sent += os.write(fd, view[sent:])
                    except BlockingIOError:
                        await wait_writable(fd)
                        fd = self._live_fd()
                    except BrokenPipeError as error:
                        raise BrokenResourceError("the reading end was closed") from error
            await cancel_shielded_checkpoint()
        finally:
            self._sending = False

    async def send_eof(self) -> None:
        """For a pipe, the end of data is closing the write end: this closes the stream.
        Checkpoint: yes; it closes even when cancelled."""
        await self.aclose()

    def close(self) -> None:
        fd = self._fd
        if fd >= 0:
            self._fd = -1
            notify_closing(fd)
            os.close(fd)

    async def aclose(self) -> None:
        self.close()
        await cancel_shielded_checkpoint()

"""In-memory streams for tests: ``memory_stream_pair()`` gives two connected ``Stream`` ends.

Each direction is a bounded pipe (64 KiB by default): ``send_all`` waits while the pipe is full,
so memory streams apply the same backpressure as sockets and tests exercise the same code paths.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, final

from ._core import BrokenResourceError, BusyResourceError, ClosedResourceError
from ._streams import Stream
from .lowlevel import ParkingLot, cancel_shielded_checkpoint, checkpoint

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = ["MemoryStream", "memory_stream_pair"]


@final
class _Pipe:
    """One direction: bytes written by one end, read by the other."""

    __slots__ = ("data", "eof", "limit", "reader_closed", "readers", "writers")

    def __init__(self, limit: int) -> None:
        self.data = bytearray()
        self.limit = limit
        self.eof = False  # the writing end sent EOF or closed
        self.reader_closed = False
        self.readers = ParkingLot("memory stream: waiting for data")
        self.writers = ParkingLot("memory stream: waiting for room")


@final
class MemoryStream(Stream):
    """One end of a ``memory_stream_pair()``."""

    __slots__ = ("_closed", "_incoming", "_outgoing", "_sending")

    def __init__(self, incoming: _Pipe, outgoing: _Pipe) -> None:
        super().__init__()
        self._incoming = incoming
        self._outgoing = outgoing
        self._closed = False
        self._sending = False

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedResourceError("this stream was closed")

    async def _receive_some(self, max_bytes: int) -> bytes:
        self._check_open()
        pipe = self._incoming
        if pipe.data or pipe.eof:
            await checkpoint()
        else:
            while not pipe.data and not pipe.eof:
                await pipe.readers.park()
                self._check_open()
        data = bytes(pipe.data[:max_bytes])
        del pipe.data[:max_bytes]
        pipe.writers.unpark_all()
        return data

    async def send_all(self, data: ReadableBuffer) -> None:
        self._check_open()
        if self._sending:
            raise BusyResourceError("another task is already sending on this stream")
        self._sending = True
        try:
            await checkpoint()
            pipe = self._outgoing
            with memoryview(data) as view:
                sent = 0
                while sent < len(view):
                    self._check_open()
                    if pipe.reader_closed:
                        raise BrokenResourceError("the other end was closed")
                    if pipe.eof:
                        raise ClosedResourceError("send_eof() was called on this stream")
                    room = pipe.limit - len(pipe.data)
                    if room <= 0:
                        await pipe.writers.park()
                        continue
                    pipe.data += view[sent : sent + room]
                    sent += min(room, len(view) - sent)
                    pipe.readers.unpark_all()
        finally:
            self._sending = False

    async def send_eof(self) -> None:
        self._check_open()
        await checkpoint()
        self._outgoing.eof = True
        self._outgoing.readers.unpark_all()

    async def aclose(self) -> None:
        self.close()
        await cancel_shielded_checkpoint()

    def close(self) -> None:
        """Close this end at once (the peer reads EOF; its sends fail). Not a checkpoint."""
        if self._closed:
            return
        self._closed = True
        self._outgoing.eof = True
        self._outgoing.readers.unpark_all()
        self._incoming.reader_closed = True
        self._incoming.writers.unpark_all()
        # Tasks of ours blocked in recv or send wake up and see the stream closed.
        self._incoming.readers.unpark_all()
        self._outgoing.writers.unpark_all()


def memory_stream_pair(max_buffer: int = 65536) -> tuple[MemoryStream, MemoryStream]:
    """Two connected in-memory streams; each direction buffers at most ``max_buffer`` bytes."""
    if max_buffer < 1:
        raise ValueError("max_buffer must be at least 1")
    a_to_b, b_to_a = _Pipe(max_buffer), _Pipe(max_buffer)
    return MemoryStream(b_to_a, a_to_b), MemoryStream(a_to_b, b_to_a)

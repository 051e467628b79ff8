"""Byte streams: one reading API (``recv``, ``readline``, ``readuntil``, ``readexactly``,
``async for``) over every transport (TCP, Unix, TLS, memory).

A transport implements four primitives, ``_receive_some``, ``send_all``, ``send_eof`` and
``aclose``; ``Stream`` adds the buffered reading on top. The read buffer only ever holds bytes the
caller asked to look for (a delimiter search stops at ``max_size``), and there is no write buffer
at all: ``send_all`` returns when the kernel has taken every byte, which is the backpressure.
"""

from __future__ import annotations

import socket as _stdlib
from collections.abc import AsyncIterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._core import BrokenResourceError, BusyResourceError, ClosedResourceError
from .lowlevel import (
    cancel_shielded_checkpoint,
    checkpoint,
    checkpoint_if_cancelled,
    notify_closing,
    wait_readable,
    wait_writable,
)

if TYPE_CHECKING:
    import ssl

    from _typeshed import ReadableBuffer

    from ._socket import SocketType

__all__ = ["IncompleteReadError", "LimitOverrunError", "SocketStream", "Stream"]

DEFAULT_LIMIT = 65536


class IncompleteReadError(EOFError):
    """The stream ended before ``readexactly``/``readuntil`` got what it asked for.

    ``partial`` holds the bytes that did arrive; ``expected`` the count asked for (or None).
    """

    def __init__(self, partial: bytes, expected: int | None) -> None:
        what = "a delimiter" if expected is None else f"{expected} bytes"
        super().__init__(f"stream ended after {len(partial)} bytes while waiting for {what}")
        self.partial = partial
        self.expected = expected


class LimitOverrunError(Exception):
    """No delimiter within ``max_size`` bytes. The bytes stay buffered (``consumed`` of them)."""

    def __init__(self, message: str, consumed: int) -> None:
        super().__init__(message)
        self.consumed = consumed


class Stream:
    """Base class of every byte stream. Subclasses implement ``_receive_some``, ``send_all``,
    ``send_eof`` and ``aclose``."""

    __slots__ = ("_buffer", "_eof", "_receiving")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._eof = False
        self._receiving = False

    # -- to implement --------------------------------------------------------------------------

    async def _receive_some(self, max_bytes: int) -> bytes:
        raise NotImplementedError

    async def send_all(self, data: ReadableBuffer) -> None:
        """Send all of ``data``; returns when the transport has taken every byte.

        Checkpoint: yes. Raises ``BrokenResourceError`` if the peer is gone,
        ``ClosedResourceError`` if this stream was closed, ``BusyResourceError`` if another task
        is sending. If cancelled midway, an unknown prefix has been sent.
        """
        raise NotImplementedError

    async def send_eof(self) -> None:
        """Tell the peer no more data is coming (half-close); reading still works.
        Checkpoint: yes."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Close the stream. Checkpoint: yes; it closes even when cancelled."""
        raise NotImplementedError

    # -- reading -------------------------------------------------------------------------------

    def _check_open(self) -> None:
        """Raise ``ClosedResourceError`` if this stream was closed (transports override it)."""

    def _claim(self) -> None:
        # Closed first: a closed stream must not serve stale buffered bytes or a buffered EOF.
        self._check_open()
        if self._receiving:
            raise BusyResourceError("another task is already reading from this stream")
        self._receiving = True

    async def _fill(self, max_bytes: int) -> bool:
        """Read more into the buffer; False at end of stream."""
        if self._eof:
            await checkpoint()
            return False
        data = await self._receive_some(max_bytes)
        if not data:
            self._eof = True
            return False
        self._buffer += data
        return True

    async def recv(self, max_bytes: int = DEFAULT_LIMIT) -> bytes:
        """Return up to ``max_bytes`` bytes as soon as any are available; ``b""`` at the end.

        Checkpoint: yes. Cancellation: nothing was consumed.
        """
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        self._claim()
        try:
            buffer = self._buffer
            if buffer:
                await checkpoint()
                data = bytes(buffer[:max_bytes])
                del buffer[:max_bytes]
                return data
            if self._eof:
                await checkpoint()
                return b""
            data = await self._receive_some(max_bytes)
            if not data:
                self._eof = True
            return data
        finally:
            self._receiving = False

    async def readuntil(self, separator: bytes = b"\n", max_size: int = DEFAULT_LIMIT) -> bytes:
        """Read up to and including ``separator``.

        Checkpoint: yes. ``LimitOverrunError`` if ``max_size`` bytes arrive without it (they
        stay buffered, so memory stays bounded); ``IncompleteReadError`` (with ``.partial``) if
        the stream ends first. Cancellation: what was read stays buffered for the next call.
        """
        if not separator:
            raise ValueError("separator must not be empty")
        self._claim()
        try:
            buffer = self._buffer
            start = 0
            filled = False
            while True:
                index = buffer.find(separator, start)
                if index != -1:
                    end = index + len(separator)
                    if end > max_size:
                        break
                    if not filled:
                        # Before consuming: a call cancelled here must leave the line buffered.
                        await checkpoint()
                    line = bytes(buffer[:end])
                    del buffer[:end]
                    return line
                if len(buffer) >= max_size:
                    break
                start = max(0, len(buffer) - len(separator) + 1)
                filled = True
                if not await self._fill(max(max_size - len(buffer), 1)):
                    partial = bytes(buffer)
                    buffer.clear()
                    raise IncompleteReadError(partial, None)
            raise LimitOverrunError(
                f"no {separator!r} within {max_size} bytes (max_size)", len(buffer)
            )
        finally:
            self._receiving = False

    async def readline(self, max_size: int = DEFAULT_LIMIT) -> bytes:
        """Read one line, including its ``b"\\n"``; at the end of the stream, whatever is left
        (``b""`` once nothing is). Checkpoint: yes. ``LimitOverrunError`` past ``max_size``."""
        try:
            return await self.readuntil(b"\n", max_size)
        except IncompleteReadError as error:
            return error.partial

    async def readexactly(self, n: int) -> bytes:
        """Read exactly ``n`` bytes. Checkpoint: yes. ``IncompleteReadError`` (with
        ``.partial``) if the stream ends first. Cancellation: what was read stays buffered."""
        if n < 0:
            raise ValueError("n must be non-negative")
        self._claim()
        try:
            buffer = self._buffer
            if len(buffer) >= n:
                await checkpoint()
            while len(buffer) < n:  # each _fill is a checkpoint
                if not await self._fill(max(n - len(buffer), DEFAULT_LIMIT)):
                    partial = bytes(buffer)
                    buffer.clear()
                    raise IncompleteReadError(partial, n)
            data = bytes(buffer[:n])
            del buffer[:n]
            return data
        finally:
            self._receiving = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        while data := await self.recv():
            yield data

    async def lines(self, max_size: int = DEFAULT_LIMIT) -> AsyncIterator[bytes]:
        """``async for line in stream.lines()``: each line with its ``b"\\n"``, then whatever
        trails the last newline.

        Each step is a checkpoint (a ``readline``), with its errors: a line longer than
        ``max_size`` raises ``LimitOverrunError``. Cancellation: nothing of the line is lost;
        the next step reads it again."""
        while line := await self.readline(max_size):
            yield line

    # -- context manager and TLS ---------------------------------------------------------------

    async def __aenter__(self) -> Stream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        *,
        server_hostname: str | None = None,
        server_side: bool = False,
    ) -> Stream:
        """Upgrade this open stream to TLS and return the TLS stream (use only that one from
        now on). Checkpoint: yes; the handshake obeys cancel scopes."""
        from ._tls import TLSStream

        stream = TLSStream(
            self, ssl_context, server_hostname=server_hostname, server_side=server_side
        )
        await stream.do_handshake()
        return stream


class SocketStream(Stream):
    """A stream over a connected socket (TCP or Unix). ``stream.socket`` is the socket."""

    __slots__ = ("_eof_sent", "_raw", "_sending", "_wait_first", "socket")

    def __init__(self, sock: SocketType) -> None:
        super().__init__()
        self.socket = sock
        self._raw: _stdlib.socket = sock._sock
        self._sending = False
        self._eof_sent = False
        # Wait for readability before every read but the first: see _receive_some.
        self._wait_first = False
        if sock.family in (_stdlib.AF_INET, _stdlib.AF_INET6) and sock.type == _stdlib.SOCK_STREAM:
            sock.setsockopt(_stdlib.IPPROTO_TCP, _stdlib.TCP_NODELAY, 1)

    def __repr__(self) -> str:
        return f"<SocketStream {self.socket!r}>"

    def _closed(self) -> ClosedResourceError:
        return ClosedResourceError("this stream was closed")

    def _check_open(self) -> None:
        if self._raw.fileno() == -1:
            raise self._closed()

    async def _receive_some(self, max_bytes: int) -> bytes:
        # The schedule point comes first and nothing follows the system call, so the bytes go
        # straight to the caller: a task that yields while holding a fresh 64 KiB buffer (and
        # the caller its previous one) makes the allocator trim and regrow the heap, about one
        # page fault per message in the echo benchmark. After a read, wait for readability
        # first (the loop polls on every pass anyway, and the interest stays registered): an
        # optimistic recv in ping-pong fails once per message, about 20% slower at 64 KiB,
        # and this holds for a read that filled max_bytes too. Only a fresh stream reads
        # optimistically (its peer may have written already).
        raw = self._raw
        if raw.fileno() == -1:
            raise self._closed()
        if self._wait_first:
            await wait_readable(raw)
        else:
            await checkpoint()
            self._wait_first = True
        while True:
            try:
                return raw.recv(max_bytes)
            except BlockingIOError:
                await wait_readable(raw)
            except (ConnectionResetError, BrokenPipeError) as error:
                raise BrokenResourceError(f"connection lost: {error}") from error
            except OSError as error:
                if raw.fileno() == -1:
                    raise self._closed() from None
                raise BrokenResourceError(f"receive failed: {error}") from error

    async def send_all(self, data: ReadableBuffer) -> None:
        if self._sending:
            raise BusyResourceError("another task is already sending on this stream")
        raw = self._raw
        if raw.fileno() == -1:
            raise self._closed()
        if self._eof_sent:
            # Like the memory stream (the kernel would say EPIPE, which reads as a lost peer).
            raise ClosedResourceError("send_eof() was called on this stream")
        self._sending = True
        try:
            await checkpoint_if_cancelled()
            waited = False
            with memoryview(data) as view:
                total = len(view)
                sent = 0
                while sent < total:
                    try:
                        sent += raw.send(view[sent:])
                    except BlockingIOError:
                        await wait_writable(raw)
                        waited = True
                    except (BrokenPipeError, ConnectionResetError) as error:
                        raise BrokenResourceError(f"connection lost: {error}") from error
                    except OSError as error:
                        if raw.fileno() == -1:
                            raise self._closed() from None
                        raise BrokenResourceError(f"send failed: {error}") from error
            if not waited:
                await cancel_shielded_checkpoint()
        finally:
            self._sending = False

    async def send_eof(self) -> None:
        raw = self._raw
        if raw.fileno() == -1:
            raise self._closed()
        await checkpoint()
        try:
            raw.shutdown(_stdlib.SHUT_WR)
        except OSError as error:
            raise BrokenResourceError(f"send_eof failed: {error}") from error
        self._eof_sent = True

    async def aclose(self) -> None:
        raw = self._raw
        if raw.fileno() != -1:
            notify_closing(raw)
            raw.close()
        await cancel_shielded_checkpoint()

    def close(self) -> None:
        """Close at once, without a checkpoint (for ``finally`` blocks and cleanup code)."""
        raw = self._raw
        if raw.fileno() != -1:
            notify_closing(raw)
            raw.close()

    def getsockname(self) -> Any:
        return self._raw.getsockname()

    def getpeername(self) -> Any:
        return self._raw.getpeername()

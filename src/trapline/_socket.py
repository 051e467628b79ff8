"""``trapline.socket``: the stdlib socket API, as checkpoints that wait instead of blocking.

Each operation tries the system call first and waits for readiness only on ``BlockingIOError``,
then retries (curio ``io.py``). Every async method is a checkpoint: it raises ``Cancelled`` before
touching the socket if the task is already cancelled, and yields to other tasks after an
operation that succeeded at once, without raising ``Cancelled`` after the fact, so a cancelled
call never half-happens. Closing a socket through trapline first wakes every task blocked on it
with ``ClosedResourceError``.
"""

from __future__ import annotations

import errno
import socket as _stdlib
from typing import TYPE_CHECKING, Any, final

from ._core import ClosedResourceError
from .lowlevel import (
    cancel_shielded_checkpoint,
    checkpoint_if_cancelled,
    notify_closing,
    wait_readable,
    wait_writable,
)

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

__all__ = ["SocketType", "from_stdlib_socket", "socket", "socketpair"]

Address = Any


@final
class SocketType:
    """A non-blocking stdlib socket with async methods. Make one with ``trapline.socket.socket()``
    or ``from_stdlib_socket()``; use it as a context manager or call ``close()``."""

    __slots__ = ("_sock",)

    def __init__(self, sock: _stdlib.socket) -> None:
        if not isinstance(sock, _stdlib.socket):
            raise TypeError(f"expected a socket.socket, not {type(sock).__name__}")
        sock.setblocking(False)
        self._sock = sock

    # -- plain (non-blocking) operations -------------------------------------------------------

    @property
    def family(self) -> int:
        return self._sock.family

    @property
    def type(self) -> int:
        return self._sock.type

    @property
    def proto(self) -> int:
        return self._sock.proto

    @property
    def closed(self) -> bool:
        return self._sock.fileno() == -1

    def fileno(self) -> int:
        return self._sock.fileno()

    def getsockname(self) -> Address:
        return self._sock.getsockname()

    def getpeername(self) -> Address:
        return self._sock.getpeername()

    def setsockopt(self, level: int, option: int, value: int | ReadableBuffer) -> None:
        self._sock.setsockopt(level, option, value)

    def getsockopt(self, level: int, option: int, buflen: int | None = None) -> Any:
        if buflen is None:
            return self._sock.getsockopt(level, option)
        return self._sock.getsockopt(level, option, buflen)

    def bind(self, address: Address) -> None:
        self._sock.bind(address)

    def listen(self, backlog: int = _stdlib.SOMAXCONN) -> None:
        self._sock.listen(backlog)

    def shutdown(self, how: int) -> None:
        self._sock.shutdown(how)

    def close(self) -> None:
        """Close the socket; tasks blocked on it get ``ClosedResourceError``. Idempotent."""
        if self._sock.fileno() != -1:
            notify_closing(self._sock)
            self._sock.close()

    def detach(self) -> int:
        """Give up the fd without closing it (waiters are woken as if it closed)."""
        if self._sock.fileno() != -1:
            notify_closing(self._sock)
        return self._sock.detach()

    def __enter__(self) -> SocketType:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<trapline.socket.SocketType fd={self.fileno()} {self._sock!r}>"

    def _check_open(self) -> None:
        if self._sock.fileno() == -1:
            raise ClosedResourceError("this socket was closed")

    # -- async operations ----------------------------------------------------------------------

    async def accept(self) -> tuple[SocketType, Address]:
        """Accept a connection. Checkpoint: yes. Cancellation: nothing was accepted."""
        await checkpoint_if_cancelled()
        self._check_open()
        sock = self._sock
        while True:
            try:
                conn, address = sock.accept()
            except BlockingIOError:
                await wait_readable(sock)
                continue
            wrapped = SocketType(conn)
            await cancel_shielded_checkpoint()
            return wrapped, address

    async def connect(self, address: Address) -> None:
        """Connect to ``address``. Checkpoint: yes. ``OSError`` on failure. If cancelled before
        the connection is established, the socket is closed (a half-open socket is useless)."""
        await checkpoint_if_cancelled()
        self._check_open()
        sock = self._sock
        try:
            sock.connect(address)
        except BlockingIOError:
            pass
        except InterruptedError:
            pass
        else:
            await cancel_shielded_checkpoint()
            return
        try:
            await wait_writable(sock)
        except BaseException:
            self.close()
            raise
        error = sock.getsockopt(_stdlib.SOL_SOCKET, _stdlib.SO_ERROR)
        if error:
            raise OSError(error, f"connect to {address!r} failed: {errno.errorcode.get(error)}")

    async def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """Receive up to ``bufsize`` bytes (``b""`` at end of stream). Checkpoint: yes."""
        await checkpoint_if_cancelled()
        sock = self._sock
        try:
            data = sock.recv(bufsize, flags)
        except BlockingIOError:
            pass
        else:
            await cancel_shielded_checkpoint()
            return data
        while True:
            await wait_readable(sock)
            try:
                return sock.recv(bufsize, flags)
            except BlockingIOError:
                continue

    async def recv_into(self, buffer: WriteableBuffer, nbytes: int = 0, flags: int = 0) -> int:
        """Receive into ``buffer``; returns the byte count. Checkpoint: yes."""
        await checkpoint_if_cancelled()
        sock = self._sock
        while True:
            try:
                count = sock.recv_into(buffer, nbytes, flags)
            except BlockingIOError:
                await wait_readable(sock)
                continue
            await cancel_shielded_checkpoint()
            return count

    async def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, Address]:
        """Receive a datagram and its sender's address. Checkpoint: yes."""
        await checkpoint_if_cancelled()
        sock = self._sock
        while True:
            try:
                result = sock.recvfrom(bufsize, flags)
            except BlockingIOError:
                await wait_readable(sock)
                continue
            await cancel_shielded_checkpoint()
            return result

    async def recvfrom_into(
        self, buffer: WriteableBuffer, nbytes: int = 0, flags: int = 0
    ) -> tuple[int, Address]:
        """Receive a datagram into ``buffer``. Checkpoint: yes."""
        await checkpoint_if_cancelled()
        sock = self._sock
        while True:
            try:
                result = sock.recvfrom_into(buffer, nbytes, flags)
            except BlockingIOError:
                await wait_readable(sock)
                continue
            await cancel_shielded_checkpoint()
            return result

    async def send(self, data: ReadableBuffer, flags: int = 0) -> int:
        """Send some of ``data``; returns how many bytes the kernel took. Checkpoint: yes."""
        await checkpoint_if_cancelled()
        sock = self._sock
        while True:
            try:
                sent = sock.send(data, flags)
            except BlockingIOError:
                await wait_writable(sock)
                continue
            await cancel_shielded_checkpoint()
            return sent

    async def sendall(self, data: ReadableBuffer, flags: int = 0) -> None:
        """Send all of ``data``, waiting while the send buffer is full. Checkpoint: yes. If
        cancelled midway, an unknown prefix of ``data`` has been sent."""
        await checkpoint_if_cancelled()
        sock = self._sock
        with memoryview(data) as view:
            total = len(view)
            sent = 0
            while sent < total:
                try:
                    sent += sock.send(view[sent:], flags)
                except BlockingIOError:
                    await wait_writable(sock)
        await cancel_shielded_checkpoint()

    async def sendto(self, data: ReadableBuffer, address: Address) -> int:
        """Send a datagram to ``address``. Checkpoint: yes."""
        await checkpoint_if_cancelled()
        sock = self._sock
        while True:
            try:
                sent = sock.sendto(data, address)
            except BlockingIOError:
                await wait_writable(sock)
                continue
            await cancel_shielded_checkpoint()
            return sent


def socket(
    family: int = _stdlib.AF_INET, type: int = _stdlib.SOCK_STREAM, proto: int = 0
) -> SocketType:
    """Create a new socket (like ``socket.socket``), non-blocking and wrapped."""
    return SocketType(_stdlib.socket(family, type, proto))


def socketpair(
    family: int = _stdlib.AF_UNIX, type: int = _stdlib.SOCK_STREAM, proto: int = 0
) -> tuple[SocketType, SocketType]:
    """A connected pair of sockets (like ``socket.socketpair``)."""
    a, b = _stdlib.socketpair(family, type, proto)
    return SocketType(a), SocketType(b)


def from_stdlib_socket(sock: _stdlib.socket) -> SocketType:
    """Wrap an existing stdlib socket (it is switched to non-blocking mode)."""
    return SocketType(sock)

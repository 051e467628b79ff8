"""UDP: ``sock = await trapline.open_udp_socket(local_addr=..., remote_addr=...)``.

A datagram socket with ``sendto``/``recvfrom`` (and ``send``/``recv`` once connected to a remote
address), usable with ``async with`` and ``async for data, addr in sock``.
"""

from __future__ import annotations

import socket as _stdlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, final

from ._socket import SocketType
from ._tcp import getaddrinfo

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = ["UDPSocket", "open_udp_socket"]


@final
class UDPSocket:
    """A UDP socket. ``socket`` is the underlying ``trapline.socket.SocketType``."""

    __slots__ = ("socket",)

    def __init__(self, sock: SocketType) -> None:
        self.socket = sock

    @property
    def local_address(self) -> Any:
        return self.socket.getsockname()

    @property
    def remote_address(self) -> Any:
        """The connected remote address; ``OSError`` if not connected."""
        return self.socket.getpeername()

    async def sendto(self, data: ReadableBuffer, address: Any) -> None:
        """Send one datagram to ``address``. Checkpoint: yes. ``OSError`` (for example
        ``EMSGSIZE`` for a datagram that is too large)."""
        await self.socket.sendto(data, address)

    async def send(self, data: ReadableBuffer) -> None:
        """Send one datagram to the connected remote address. Checkpoint: yes."""
        await self.socket.send(data)

    async def recvfrom(self, max_bytes: int = 65536) -> tuple[bytes, Any]:
        """Receive one datagram (truncated to ``max_bytes``) and its sender. Checkpoint: yes.
        Cancellation: no datagram is consumed."""
        return await self.socket.recvfrom(max_bytes)

    async def recv(self, max_bytes: int = 65536) -> bytes:
        """Receive one datagram from the connected remote address. Checkpoint: yes."""
        return await self.socket.recv(max_bytes)

    def __aiter__(self) -> AsyncIterator[tuple[bytes, Any]]:
        return self._datagrams()

    async def _datagrams(self) -> AsyncIterator[tuple[bytes, Any]]:
        while True:
            yield await self.socket.recvfrom(65536)

    def close(self) -> None:
        """Close the socket; tasks blocked on it get ``ClosedResourceError``."""
        self.socket.close()

    async def aclose(self) -> None:
        """Close the socket. Checkpoint: yes."""
        from .lowlevel import cancel_shielded_checkpoint

        self.close()
        await cancel_shielded_checkpoint()

    async def __aenter__(self) -> UDPSocket:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<UDPSocket {self.local_address!r}>"


async def open_udp_socket(
    local_addr: tuple[str, int] | None = None, remote_addr: tuple[str, int] | None = None
) -> UDPSocket:
    """Open a UDP socket bound to ``local_addr`` (default: loopback, a free port, in the remote
    address's family) and, if given, connected to ``remote_addr``. Checkpoint: yes."""
    family = 0  # any, unless the remote address decides it
    remote = None
    if remote_addr is not None:
        infos = await getaddrinfo(remote_addr[0], remote_addr[1], type=_stdlib.SOCK_DGRAM)
        family, _, _, _, remote = infos[0]
    if local_addr is None:
        local_addr = ("::1" if family == _stdlib.AF_INET6 else "127.0.0.1", 0)
    infos = await getaddrinfo(local_addr[0], local_addr[1], family, _stdlib.SOCK_DGRAM)
    family, type_, proto, _, local = infos[0]
    sock = SocketType(_stdlib.socket(family, type_, proto))
    try:
        sock.bind(local)
        if remote is not None:
            await sock.connect(remote)
    except BaseException:
        sock.close()
        raise
    return UDPSocket(sock)

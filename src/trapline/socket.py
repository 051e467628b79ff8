"""``trapline.socket``: the stdlib socket API with async methods (see ``SocketType``).

The common constants are re-exported so ``trapline.socket`` can stand in for ``socket``.
"""

from socket import (
    AF_INET,
    AF_INET6,
    AF_UNIX,
    AI_PASSIVE,
    IPPROTO_TCP,
    IPPROTO_UDP,
    SHUT_RD,
    SHUT_RDWR,
    SHUT_WR,
    SO_REUSEADDR,
    SOCK_DGRAM,
    SOCK_STREAM,
    SOL_SOCKET,
    TCP_NODELAY,
    gaierror,
)

from ._socket import SocketType, from_stdlib_socket, socket, socketpair
from ._tcp import getaddrinfo

__all__ = [
    "AF_INET",
    "AF_INET6",
    "AF_UNIX",
    "AI_PASSIVE",
    "IPPROTO_TCP",
    "IPPROTO_UDP",
    "SHUT_RD",
    "SHUT_RDWR",
    "SHUT_WR",
    "SOCK_DGRAM",
    "SOCK_STREAM",
    "SOL_SOCKET",
    "SO_REUSEADDR",
    "TCP_NODELAY",
    "SocketType",
    "from_stdlib_socket",
    "gaierror",
    "getaddrinfo",
    "socket",
    "socketpair",
]

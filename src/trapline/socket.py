"""``trapline.socket``: the stdlib socket API with async methods (see ``SocketType``)."""

from socket import *  # noqa: F403 - constants (AF_INET, SOCK_STREAM, ...) like the stdlib module

from ._socket import SocketType, from_stdlib_socket, socket, socketpair
from ._tcp import getaddrinfo

__all__ = ["SocketType", "from_stdlib_socket", "getaddrinfo", "socket", "socketpair"]

"""TCP and Unix stream connections and servers.

``open_tcp_stream`` resolves without blocking the loop and connects with Happy Eyeballs (RFC
8305: start the next address's attempt after ``happy_eyeballs_delay`` or as soon as the previous
one fails; the first to connect wins and the others are cancelled). ``serve_tcp`` runs each
connection's handler in its own task; a handler that fails is logged and only its own connection
is closed; cancelling the server closes the listeners and every connection. When the process runs
out of file descriptors, accepting pauses briefly instead of spinning.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import socket as _stdlib
import stat
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from ._core import (
    TASK_STATUS_IGNORED,
    BusyResourceError,
    CancelScope,
    ClosedResourceError,
    TaskGroup,
    TaskStatus,
    sleep,
)
from ._socket import SocketType
from ._streams import SocketStream, Stream
from .lowlevel import cancel_shielded_checkpoint, checkpoint_if_cancelled, notify_closing
from .lowlevel import wait_readable as _wait_readable

if TYPE_CHECKING:
    import ssl

__all__ = [
    "SocketListener",
    "getaddrinfo",
    "open_tcp_listeners",
    "open_tcp_stream",
    "open_unix_listener",
    "open_unix_stream",
    "serve_listeners",
    "serve_tcp",
    "serve_unix",
]

logger = logging.getLogger("trapline.server")

# Accept errors that mean "out of resources right now": pause, do not spin, do not die.
_CAPACITY_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS}
_CAPACITY_PAUSE = 0.1
# Errors accept() reports about a connection that died while it waited in the queue (Linux
# passes such pending network errors on, see accept(2): "treat them like EAGAIN by retrying").
# They concern that one connection, not the listener: skip it and take the next.
_DEAD_IN_QUEUE_ERRNOS = {
    getattr(errno, name)
    for name in (
        "ECONNABORTED",
        "ECONNRESET",
        "EPROTO",
        "EPERM",
        "ETIMEDOUT",
        "ENETDOWN",
        "ENETUNREACH",
        "ENOPROTOOPT",
        "EHOSTDOWN",
        "EHOSTUNREACH",
        "ENONET",
        "EOPNOTSUPP",
    )
    if hasattr(errno, name)
}

Handler = Callable[[Any], Awaitable[object]]


async def getaddrinfo(
    host: str | bytes | None,
    port: int | str | None,
    family: int = 0,
    type: int = 0,
    proto: int = 0,
    flags: int = 0,
) -> list[tuple[Any, ...]]:
    """``socket.getaddrinfo`` that does not block the loop (a numeric address is resolved at
    once; a name in a worker thread). Checkpoint: yes. Cancellation abandons the lookup."""
    await checkpoint_if_cancelled()
    try:
        result = _stdlib.getaddrinfo(
            host, port, family, type, proto, flags | _stdlib.AI_NUMERICHOST
        )
    except _stdlib.gaierror:
        pass
    else:
        await cancel_shielded_checkpoint()
        return result
    from ._threads import run_sync

    return await run_sync(
        _stdlib.getaddrinfo, host, port, family, type, proto, flags, abandon_on_cancel=True
    )


async def open_tcp_stream(
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
    happy_eyeballs_delay: float = 0.25,
) -> Stream:
    """Connect to ``host:port`` and return a stream (a TLS stream with ``ssl_context``).

    Checkpoint: yes. Raises ``OSError`` if every address failed (the group of errors is its
    ``__cause__``). Cancellation: every attempt is cancelled and its socket closed.
    """
    if happy_eyeballs_delay < 0 or math.isnan(happy_eyeballs_delay):
        raise ValueError("happy_eyeballs_delay must be a non-negative number")
    targets = await getaddrinfo(host, port, type=_stdlib.SOCK_STREAM)
    if not targets:
        raise OSError(f"no addresses for {host!r}")
    winner: list[SocketType] = []
    errors: list[OSError] = []

    async def attempt(index: int, tg: TaskGroup, failed: CancelScope) -> None:
        family, type_, proto, _, address = targets[index]
        try:
            # Inside the try: socket() itself can fail (EMFILE, EAFNOSUPPORT), and that is a
            # failed attempt like any other, not an error escaping from the task group.
            sock = SocketType(_stdlib.socket(family, type_, proto))
        except OSError as error:
            errors.append(error)
            failed.cancel("previous attempt failed")
            return
        try:
            await sock.connect(address)
        except OSError as error:
            sock.close()
            errors.append(error)
            failed.cancel("previous attempt failed")  # start the next one now
            return
        except BaseException:
            sock.close()
            raise
        if winner:
            sock.close()
            return
        winner.append(sock)
        tg.cancel_scope.cancel("connected")

    try:
        async with TaskGroup() as tg:
            for index in range(len(targets)):
                with CancelScope() as failed:
                    tg.spawn(attempt, index, tg, failed, name=f"connect {targets[index][4]}")
                    if index + 1 < len(targets):
                        await sleep(happy_eyeballs_delay)
                if winner:
                    break
    except BaseException:
        # Cancelled from outside just as an attempt connected: nobody will get that socket.
        for sock in winner:
            sock.close()
        raise
    if not winner:
        error = OSError(f"all connection attempts to {host}:{port} failed: {errors}")
        raise error from (ExceptionGroup("connection attempts", errors) if errors else None)
    stream: Stream = SocketStream(winner[0])
    if ssl_context is not None:
        try:
            stream = await stream.start_tls(
                ssl_context, server_hostname=server_hostname if server_hostname else host
            )
        except BaseException:
            await stream.aclose()  # a failed or cancelled handshake must not leak the socket
            raise
    return stream


async def open_unix_stream(path: str | os.PathLike[str]) -> SocketStream:
    """Connect to the Unix socket at ``path``. Checkpoint: yes. ``OSError`` on failure."""
    sock = SocketType(_stdlib.socket(_stdlib.AF_UNIX, _stdlib.SOCK_STREAM))
    try:
        await sock.connect(os.fspath(path))
    except BaseException:
        sock.close()
        raise
    return SocketStream(sock)


class SocketListener:
    """A listening socket; ``await listener.accept()`` returns a connected ``SocketStream``."""

    __slots__ = ("_accepting", "socket")

    def __init__(self, sock: SocketType) -> None:
        self.socket = sock
        self._accepting = False

    def __repr__(self) -> str:
        return f"<SocketListener {self.socket.getsockname()!r}>"

    async def accept(self) -> SocketStream:
        """Wait for and accept one connection. Checkpoint: yes. ``OSError`` (for example
        ``EMFILE``) is raised to the caller, except errors about a connection that died while
        queued, which is skipped; ``ClosedResourceError`` once closed."""
        if self._accepting:
            raise BusyResourceError("another task is already accepting on this listener")
        self._accepting = True
        try:
            await checkpoint_if_cancelled()
            raw = self.socket._sock
            waited = False
            while True:
                if raw.fileno() == -1:
                    raise ClosedResourceError("this listener was closed")
                try:
                    conn, _ = raw.accept()
                except BlockingIOError:
                    await _wait_readable(raw)
                    waited = True
                    continue
                except OSError as error:
                    if error.errno in _DEAD_IN_QUEUE_ERRNOS:
                        continue
                    raise
                stream = SocketStream(SocketType(conn))
                if not waited:
                    # Connections were queued: still yield, or an accept loop under a flood
                    # of connects never lets the handlers (or anything else) run.
                    await cancel_shielded_checkpoint()
                return stream
        finally:
            self._accepting = False

    async def aclose(self) -> None:
        """Stop listening and close the socket. Checkpoint: yes."""
        self.close()
        await cancel_shielded_checkpoint()

    def close(self) -> None:
        raw = self.socket._sock
        if raw.fileno() != -1:
            notify_closing(raw)
            raw.close()

    async def __aenter__(self) -> SocketListener:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def open_tcp_listeners(
    port: int, *, host: str | None = "127.0.0.1", backlog: int | None = None
) -> list[SocketListener]:
    """Listen on ``host:port`` (every address ``host`` resolves to; ``None`` for all
    interfaces; port 0 picks a free port). Checkpoint: yes."""
    targets = await getaddrinfo(
        host, port, type=_stdlib.SOCK_STREAM, flags=_stdlib.AI_PASSIVE | _stdlib.AI_ADDRCONFIG
    )
    listeners: list[SocketListener] = []
    try:
        for family, type_, proto, _, address in targets:
            sock = _stdlib.socket(family, type_, proto)
            try:
                sock.setsockopt(_stdlib.SOL_SOCKET, _stdlib.SO_REUSEADDR, 1)
                if family == _stdlib.AF_INET6:
                    sock.setsockopt(_stdlib.IPPROTO_IPV6, _stdlib.IPV6_V6ONLY, 1)
                sock.bind(address)
                sock.listen(backlog if backlog is not None else _stdlib.SOMAXCONN)
            except BaseException:
                sock.close()
                raise
            listeners.append(SocketListener(SocketType(sock)))
            if port == 0:
                # Bind the other families to the same port the first one got.
                port = sock.getsockname()[1]
                targets = [(*t[:4], (t[4][0], port, *t[4][2:])) for t in targets]
    except BaseException:
        for listener in listeners:
            listener.close()
        raise
    return listeners


def open_unix_listener(
    path: str | os.PathLike[str], *, backlog: int | None = None
) -> SocketListener:
    """Listen on a Unix socket at ``path`` (a stale socket file there is replaced). Not a
    checkpoint."""
    path = os.fspath(path)
    try:
        if stat.S_ISSOCK(os.stat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
    sock = _stdlib.socket(_stdlib.AF_UNIX, _stdlib.SOCK_STREAM)
    try:
        sock.bind(path)
        sock.listen(backlog if backlog is not None else _stdlib.SOMAXCONN)
    except BaseException:
        sock.close()
        raise
    return SocketListener(SocketType(sock))


async def _run_handler(
    handler: Handler, stream: Stream, ssl_context: ssl.SSLContext | None
) -> None:
    try:
        if ssl_context is not None:
            stream = await stream.start_tls(ssl_context, server_side=True)
        await handler(stream)
    except Exception:
        logger.exception("connection handler %r failed; closing its connection", handler)
    finally:
        with CancelScope(shield=True):
            await stream.aclose()


async def serve_listeners(
    handler: Handler,
    listeners: Sequence[SocketListener],
    *,
    ssl_context: ssl.SSLContext | None = None,
    task_status: TaskStatus[Any] = TASK_STATUS_IGNORED,
) -> None:
    """Accept connections on every listener forever, running ``handler(stream)`` for each in
    its own task. Checkpoint: yes; returns only by being cancelled, which closes the listeners
    and every connection."""

    async def accept_loop(listener: SocketListener, tg: TaskGroup) -> None:
        while True:
            try:
                stream = await listener.accept()
            except OSError as error:
                if error.errno in _CAPACITY_ERRNOS:
                    logger.warning("accept() failed (%s); pausing %.1f s", error, _CAPACITY_PAUSE)
                    await sleep(_CAPACITY_PAUSE)
                    continue
                raise
            tg.spawn(_run_handler, handler, stream, ssl_context, name="connection")

    try:
        async with TaskGroup() as tg:
            for listener in listeners:
                tg.spawn(accept_loop, listener, tg, name=f"accept {listener.socket.getsockname()}")
            task_status.started(listeners)
    finally:
        for listener in listeners:
            listener.close()


async def serve_tcp(
    handler: Handler,
    port: int,
    *,
    host: str | None = "127.0.0.1",
    backlog: int | None = None,
    ssl_context: ssl.SSLContext | None = None,
    task_status: TaskStatus[Any] = TASK_STATUS_IGNORED,
) -> None:
    """Serve TCP on ``host:port`` (loopback by default), one task per connection.

    Use ``listeners = await tg.start(serve_tcp, handler, 0)`` to learn the port. Checkpoint:
    yes; runs until cancelled. With ``ssl_context``, each connection does a TLS handshake first.
    """
    listeners = await open_tcp_listeners(port, host=host, backlog=backlog)
    await serve_listeners(handler, listeners, ssl_context=ssl_context, task_status=task_status)


async def serve_unix(
    handler: Handler,
    path: str | os.PathLike[str],
    *,
    backlog: int | None = None,
    task_status: TaskStatus[Any] = TASK_STATUS_IGNORED,
) -> None:
    """Serve on a Unix socket at ``path``, one task per connection; removes the socket file
    when cancelled. Checkpoint: yes; runs until cancelled."""
    listener = open_unix_listener(path, backlog=backlog)
    try:
        await serve_listeners(handler, [listener], task_status=task_status)
    finally:
        try:
            os.unlink(os.fspath(path))
        except OSError:
            pass

"""Connections and the connection pool of the trapline.kv client.

A ``Connection`` is one stream plus a reply parser. It has no idea of "in use": the ``Pool``
lends it to one task at a time. The rule that keeps replies matched with commands is simple: a
connection whose exchange did not finish cleanly (cancelled mid-reply, stream error, protocol
error) is marked ``broken`` and closed when it comes back to the pool, never reused. A cancelled
blocking command (BLPOP...) therefore closes its socket, and the server, seeing the connection
go, forgets the wait instead of popping a value for nobody.

The pool is bounded by a ``CapacityLimiter``: a task borrows a token, then takes an idle
connection or opens one. So at most ``max_connections`` connections exist at any time (each is
either idle or lent to a token holder), waiters are served in FIFO order, and a cancelled waiter
borrows nothing. An idle connection the server closed meanwhile (restart, ``CLIENT KILL``, idle
timeout) is noticed when it is taken (its socket is readable: EOF) and replaced, so the next
command after a drop reconnects transparently; a drop *during* a command is ``ConnectionLost``.

The command path is kept to one pass of the run loop: ``Pool.acquire_nowait`` hands over an
idle connection without a checkpoint, ``Connection.write`` tries one ``write(2)`` on the plain
socket before falling back to the stream, and ``Connection.read`` parks in ``wait_readable``
and reads the socket itself. Going through the limiter's ``acquire`` and the stream's
``send_all``/``recv`` cost three passes (and three epoll polls) per command.
"""

from __future__ import annotations

import os
import select
import ssl as _ssl
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from typing import Any, final

import trapline
from trapline.lowlevel import wait_readable

from ._client_resp import (
    NEED_MORE,
    ConnectionLost,
    ProtocolViolation,
    PushMessage,
    ReplyParser,
    ResponseError,
    encode_command,
)

__all__ = ["Address", "Connection", "Options", "ParsedURL", "Pool", "PoolStatistics", "parse_url"]

_STREAM_ERRORS = (trapline.BrokenResourceError, trapline.ClosedResourceError, OSError)


@dataclass(frozen=True, slots=True)
class Address:
    """One server: ``host:port`` over TCP (``tls`` for rediss://), or a Unix socket ``path``."""

    host: str = "127.0.0.1"
    port: int = 6379
    path: str | None = None
    tls: bool = False

    def __str__(self) -> str:
        return self.path if self.path is not None else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Options:
    """How every connection of a client is set up."""

    db: int = 0
    username: str | None = None
    password: str | None = None
    decode_responses: bool = False
    protocol: int = 2
    client_name: str | None = None
    ssl_context: _ssl.SSLContext | None = None


@dataclass(frozen=True, slots=True)
class ParsedURL:
    addresses: tuple[Address, ...]
    cluster: bool
    db: int = 0
    username: str | None = None
    password: str | None = None
    query: dict[str, str] = field(default_factory=dict)


def parse_url(url: str) -> ParsedURL:
    """Parse ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` (TLS),
    ``unix:///path/to.sock[?db=N]`` and ``redis+cluster://host:port,host:port,...``
    (``rediss+cluster://`` for TLS). ``ValueError`` for anything else."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(
            f"not a URL: {url!r} (write redis://host:port, rediss://host:port for TLS, "
            "unix:///path/to.sock or redis+cluster://host:port,host:port)"
        )
    scheme = scheme.lower()
    rest, _, query_text = rest.partition("?")
    query = {k: v[-1] for k, v in urllib.parse.parse_qs(query_text).items()}
    userinfo, at, rest = rest.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = urllib.parse.unquote(user) or None
        password = urllib.parse.unquote(secret) if colon else None
        if not colon:  # redis://password@host is how some tools spell it
            username, password = None, urllib.parse.unquote(user)
    db = int(query.get("db", "0"))
    if scheme == "unix":
        path = urllib.parse.unquote(rest)
        if not path:
            raise ValueError(f"no socket path in {url!r}")
        return ParsedURL((Address(path=path),), False, db, username, password, query)
    if scheme not in ("redis", "rediss", "redis+cluster", "rediss+cluster"):
        raise ValueError(
            f"unsupported URL scheme {scheme!r}: use redis://, rediss://, unix:// or "
            "redis+cluster://"
        )
    tls = scheme.startswith("rediss")
    cluster = scheme.endswith("+cluster")
    netloc, _, path = rest.partition("/")
    if path:
        db = int(path)
    addresses = []
    for part in netloc.split(","):
        split = urllib.parse.urlsplit("//" + part)
        addresses.append(Address(split.hostname or "127.0.0.1", split.port or 6379, tls=tls))
    if cluster and db:
        raise ValueError("Redis Cluster has only database 0")
    if not cluster and len(addresses) > 1:
        raise ValueError("several hosts need redis+cluster://")
    return ParsedURL(tuple(addresses), cluster, db, username, password, query)


def _raw_fd(stream: trapline.Stream) -> int:
    while isinstance(stream, trapline.TLSStream):
        stream = stream.transport_stream
    if isinstance(stream, trapline.SocketStream):
        return stream.socket.fileno()
    return -1


@final
class Connection:
    """One connection to one server: send commands, read replies in order."""

    __slots__ = ("_fd", "_poll", "address", "borrower", "broken", "parser", "stream")

    def __init__(self, stream: trapline.Stream, address: Address, decode: bool) -> None:
        self.stream = stream
        self.address = address
        self.parser = ReplyParser(decode)
        self.broken = False
        self.borrower: object | None = None
        fd = _raw_fd(stream)
        # The plain socket's fd (TCP or Unix, not TLS) for ``write()``'s direct first try.
        self._fd = fd if isinstance(stream, trapline.SocketStream) else -1
        self._poll: Any = None
        if fd >= 0:
            # A private poll set (no kernel object): poll(0) tells whether an idle connection
            # has something to read, which for an idle connection means the server closed it.
            self._poll = select.poll()
            self._poll.register(fd, select.POLLIN)

    def __repr__(self) -> str:
        return f"<trapline.kv Connection to {self.address}{' (broken)' if self.broken else ''}>"

    @classmethod
    async def open(cls, address: Address, options: Options) -> Connection:
        """Connect and run the handshake (HELLO/AUTH, CLIENT SETNAME, SELECT) in one round trip.

        Checkpoint: yes. Raises ``OSError`` if the server cannot be reached, ``ResponseError``
        if the handshake is refused (wrong password, unknown protocol). Cancellation closes the
        half-made connection."""
        stream: trapline.Stream
        if address.path is not None:
            stream = await trapline.open_unix_stream(address.path)
        else:
            context = options.ssl_context
            if address.tls and context is None:
                context = _ssl.create_default_context()
            stream = await trapline.open_tcp_stream(
                address.host, address.port, ssl_context=context if address.tls else None
            )
        conn = cls(stream, address, options.decode_responses)
        try:
            handshake: list[tuple[Any, ...]] = []
            if options.protocol == 3:
                hello: list[Any] = ["HELLO", 3]
                if options.password is not None:
                    hello += ["AUTH", options.username or "default", options.password]
                if options.client_name:
                    hello += ["SETNAME", options.client_name]
                handshake.append(tuple(hello))
            else:
                if options.password is not None:
                    if options.username:
                        handshake.append(("AUTH", options.username, options.password))
                    else:
                        handshake.append(("AUTH", options.password))
                if options.client_name:
                    handshake.append(("CLIENT", "SETNAME", options.client_name))
            if options.db:
                handshake.append(("SELECT", options.db))
            if handshake:
                await conn.send(handshake)
                for _ in handshake:
                    reply = await conn.read()
                    if isinstance(reply, ResponseError):
                        raise reply
        except BaseException:
            conn.close_now()
            raise
        return conn

    async def send(self, commands: list[tuple[Any, ...]] | tuple[tuple[Any, ...], ...]) -> None:
        """Send commands in one write. Checkpoint: yes. ``ConnectionLost`` if the stream broke;
        cancellation breaks the connection (part of a command may have been sent)."""
        out = bytearray()
        for args in commands:
            encode_command(args, out)
        try:
            await self.stream.send_all(out)
        except _STREAM_ERRORS as error:
            self.broken = True
            raise ConnectionLost(f"connection to {self.address} lost: {error}") from error
        except BaseException:
            self.broken = True
            raise

    async def write(self, commands: list[tuple[Any, ...]] | tuple[tuple[Any, ...], ...]) -> None:
        """Send commands that a ``read()`` will follow: as ``send()``, but without a schedule
        point when the socket takes all the bytes at once.

        Not a checkpoint when that happens; the caller's ``read()`` is (the reply is not there
        yet, so it waits). Otherwise the rest goes through the stream's ``send_all``, a
        checkpoint. Raises ``ConnectionLost``; cancellation breaks the connection."""
        out = bytearray()
        for args in commands:
            encode_command(args, out)
        # A broken connection may be closed already, its fd number reused by another file: only
        # the stream (which knows it is closed) may touch it then.
        fd = -1 if self.broken else self._fd
        if fd >= 0:
            # One write(2) on the non-blocking socket. The stream's send_all would add a
            # schedule point after it: a whole extra pass of the run loop (and an epoll poll)
            # per command, about a fifth of a sequential command's client CPU time.
            try:
                sent = os.write(fd, out)
            except BlockingIOError:
                sent = 0
            except OSError as error:
                self.broken = True
                raise ConnectionLost(f"connection to {self.address} lost: {error}") from error
            if sent == len(out):
                return
            del out[:sent]
        try:
            await self.stream.send_all(out)
        except _STREAM_ERRORS as error:
            self.broken = True
            raise ConnectionLost(f"connection to {self.address} lost: {error}") from error
        except BaseException:
            self.broken = True
            raise

    async def read(self) -> Any:
        """The next reply, skipping RESP3 pushes (an error reply is returned, not raised).

        Checkpoint: yes. ``ConnectionLost`` if the stream ended or broke, ``ProtocolViolation``
        for bytes that are not RESP; after either, and after cancellation, the connection is
        broken (out of step with the server)."""
        while True:
            reply = await self.read_any()
            if type(reply) is not PushMessage:
                return reply

    async def read_any(self) -> Any:
        """The next reply or push. As ``read()``."""
        parser = self.parser
        reply = parser.next()
        if reply is not NEED_MORE:
            return reply
        fd = -1 if self.broken else self._fd  # as in write()
        try:
            while True:
                if fd >= 0:
                    # Straight to the socket: wait until readable, then one read(2). The reply
                    # to a command just written is not there yet, so waiting first saves a
                    # failed read; the stream's recv would add its claim and a cancel check
                    # (a connection is only ever touched by its one borrower).
                    await wait_readable(fd)
                    if self.broken:  # closed by another task after the wake-up was queued
                        fd = -1
                        continue
                    try:
                        data = os.read(fd, 65536)
                    except BlockingIOError:
                        continue
                else:
                    data = await self.stream.recv(65536)
                if not data:
                    raise ConnectionLost(f"{self.address} closed the connection")
                parser.feed(data)
                reply = parser.next()
                if reply is not NEED_MORE:
                    return reply
        except _STREAM_ERRORS as error:
            self.broken = True
            raise ConnectionLost(f"connection to {self.address} lost: {error}") from error
        except BaseException:
            # Cancelled mid-reply, ProtocolViolation, UnicodeDecodeError: out of step now.
            self.broken = True
            raise

    async def call(self, args: tuple[Any, ...]) -> Any:
        """Send one command, return its reply (an error reply is returned, not raised).
        Checkpoint: yes (the read waits for the reply). Raises as ``write()`` and ``read()``."""
        await self.write((args,))
        return await self.read()

    def looks_closed(self) -> bool:
        """For an idle connection: has the server closed it (or sent something unasked)?"""
        if self.broken:
            return True
        if self._poll is None:
            return False
        try:
            return bool(self._poll.poll(0))
        except (OSError, ValueError):
            return True

    async def only_tls_housekeeping(self) -> bool:
        """An idle TLS connection is readable: is that just TLS records that carry no data
        (TLS 1.3 session tickets arrive after the handshake), rather than the end?

        Reads them with a moment's deadline; True if nothing but records came, so the
        connection is fine. Checkpoint: yes."""
        if not isinstance(self.stream, trapline.TLSStream):
            return False
        with trapline.move_on_after(0.001):
            try:
                await self.stream.recv(65536)  # data or EOF: either way, not reusable
            except _STREAM_ERRORS:
                pass
            return False
        return not self.looks_closed()

    def close_now(self) -> None:
        """Close without a checkpoint (cleanup code, cancelled tasks). A TLS session is cut
        without ``close_notify``, which is fine for a connection we are giving up on."""
        self.broken = True
        stream: trapline.Stream = self.stream
        while isinstance(stream, trapline.TLSStream):
            stream = stream.transport_stream
        if isinstance(stream, trapline.SocketStream):
            stream.close()

    async def aclose(self) -> None:
        """Close politely (TLS ``close_notify``). Checkpoint: yes; always closes."""
        self.broken = True
        await self.stream.aclose()


@dataclass(frozen=True, slots=True)
class PoolStatistics:
    """One pool: ``open_connections`` = ``in_use`` + ``idle``; never above ``max_connections``.
    ``tasks_waiting`` for a connection; ``connections_made`` since the pool was created."""

    max_connections: int
    open_connections: int
    in_use: int
    idle: int
    tasks_waiting: int
    connections_made: int


@final
class Pool:
    """Connections to one server, at most ``max_connections`` of them, shared by many tasks."""

    __slots__ = (
        "_closed",
        "_idle",
        "_lent",
        "_limiter",
        "_made",
        "_open",
        "address",
        "max_connections",
        "options",
    )

    def __init__(self, address: Address, options: Options, max_connections: int) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.address = address
        self.options = options
        self.max_connections = max_connections
        self._limiter = trapline.CapacityLimiter(max_connections)
        self._idle: deque[Connection] = deque()
        self._closed = False
        self._made = 0
        self._open = 0  # connections that exist: lent + idle
        self._lent = 0

    def __repr__(self) -> str:
        return f"<trapline.kv Pool {self.address} {self.statistics()}>"

    def acquire_nowait(self) -> Connection | None:
        """An idle connection that looks alive, or None: no free slot (or tasks queue for one),
        no idle connection, or the idle one needs a closer look (``acquire()`` gives it that).
        Not a checkpoint. Give it back with ``release()``."""
        idle = self._idle
        if not idle or self._closed:
            return None
        borrower = object()
        try:
            self._limiter.acquire_on_behalf_of_nowait(borrower)
        except trapline.WouldBlock:
            return None
        conn = idle[-1]  # most recently used first: the likeliest to be alive
        if conn.looks_closed():
            self._limiter.release_on_behalf_of(borrower)
            return None
        idle.pop()
        conn.borrower = borrower
        self._lent += 1
        return conn

    async def acquire(self) -> Connection:
        """Borrow a connection (waiting in FIFO order for a free slot; opening one if none is
        idle). Checkpoint: yes. Give it back with ``release()``.

        Raises ``ClosedResourceError`` after ``aclose()``, and what ``Connection.open`` raises.
        Cancellation: nothing is borrowed."""
        if self._closed:
            raise trapline.ClosedResourceError("this client was closed")
        borrower = object()
        await self._limiter.acquire_on_behalf_of(borrower)
        try:
            if self._closed:
                raise trapline.ClosedResourceError("this client was closed")
            idle = self._idle
            while idle:
                conn = idle.pop()  # most recently used first: the likeliest to be alive
                try:
                    alive = not conn.looks_closed() or await conn.only_tls_housekeeping()
                except BaseException:
                    conn.close_now()
                    self._open -= 1
                    raise
                if alive:
                    conn.borrower = borrower
                    self._lent += 1
                    return conn
                conn.close_now()
                self._open -= 1
            conn = await Connection.open(self.address, self.options)
            self._made += 1
            self._open += 1
        except BaseException:
            self._limiter.release_on_behalf_of(borrower)
            raise
        conn.borrower = borrower
        self._lent += 1
        return conn

    def release(self, conn: Connection) -> None:
        """Give a connection back; a broken one is closed. Not a checkpoint (safe in
        ``finally`` blocks of cancelled tasks)."""
        borrower, conn.borrower = conn.borrower, None
        self._lent -= 1
        if conn.broken or self._closed or conn.parser.buffered():
            conn.close_now()
            self._open -= 1
        else:
            self._idle.append(conn)
        self._limiter.release_on_behalf_of(borrower)

    def statistics(self) -> PoolStatistics:
        return PoolStatistics(
            max_connections=self.max_connections,
            open_connections=self._open,
            in_use=self._lent,
            idle=len(self._idle),
            tasks_waiting=self._limiter.statistics().tasks_waiting,
            connections_made=self._made,
        )

    async def aclose(self) -> None:
        """Close the idle connections now; those in use are closed when released.
        Checkpoint: yes."""
        self._closed = True
        idle = list(self._idle)
        self._idle.clear()
        self._open -= len(idle)
        with trapline.CancelScope(shield=True):
            for conn in idle:
                await conn.aclose()
        if not idle:
            await trapline.checkpoint()


def protocol_error(conn: Connection, what: str) -> ProtocolViolation:
    conn.broken = True
    return ProtocolViolation(f"{conn.address}: {what}")

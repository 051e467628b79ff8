"""The trapline.kv client: ``async with trapline.kv.connect("redis://...") as db``.

It speaks RESP to trapline.kv and to real Redis alike. A ``KV`` object is a pool of connections
(bounded, shared safely by many tasks); each command borrows one, sends, reads the reply, and
gives it back. A connection whose reply was not fully read (the command was cancelled, or the
connection dropped) is closed rather than reused, so replies can never be mismatched with
commands. Writes are never retried: losing the connection during a command raises
``ConnectionLost`` and the caller decides; the *next* command reconnects transparently.
"""

from __future__ import annotations

import ssl as _ssl
import urllib.parse
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import trapline
from trapline.lowlevel import ParkingLot

from ._client_cmds import CommandsMixin
from ._client_resp import (
    NEED_MORE,
    ConnectionLost,
    PushMessage,
    ReplyParser,
    ResponseError,
    WatchError,
    encode_command,
)

__all__ = ["KV", "Connection", "Pipeline", "connect"]


@dataclass(frozen=True)
class Address:
    """Where and how to connect, parsed from a URL."""

    host: str = "127.0.0.1"
    port: int = 6379
    path: str | None = None
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> Address:
        parts = urllib.parse.urlsplit(url)
        query = urllib.parse.parse_qs(parts.query)
        password = urllib.parse.unquote(parts.password) if parts.password else None
        username = urllib.parse.unquote(parts.username) if parts.username else None
        db = int(query.get("db", ["0"])[0])
        if parts.scheme == "unix":
            return cls(path=parts.path, db=db, username=username, password=password)
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError(
                f"unsupported URL scheme {parts.scheme!r}: use redis://, rediss://, unix://"
            )
        if parts.path and parts.path != "/":
            db = int(parts.path.lstrip("/"))
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 6379,
            db=db,
            username=username or None,
            password=password,
            tls=parts.scheme == "rediss",
        )


class Connection:
    """One connection: send commands, read replies in order."""

    def __init__(self, stream: trapline.Stream, decode: bool) -> None:
        self.stream = stream
        self.parser = ReplyParser(decode)
        self.pending = 0  # replies owed by the server
        self.broken = False
        self.pushes: list[PushMessage] = []

    @classmethod
    async def open(
        cls, address: Address, *, decode: bool, ssl_context: _ssl.SSLContext | None
    ) -> Connection:
        stream: trapline.Stream
        if address.path is not None:
            stream = await trapline.open_unix_stream(address.path)
        else:
            if address.tls and ssl_context is None:
                ssl_context = _ssl.create_default_context()
            stream = await trapline.open_tcp_stream(
                address.host, address.port, ssl_context=ssl_context if address.tls else None
            )
        conn = cls(stream, decode)
        try:
            if address.password is not None:
                args = ["AUTH", address.password]
                if address.username:
                    args.insert(1, address.username)
                await conn.call(*args)
            if address.db:
                await conn.call("SELECT", address.db)
        except BaseException:
            await conn.aclose()
            raise
        return conn

    async def send(self, commands: Iterable[tuple[Any, ...] | list[Any]]) -> None:
        out = bytearray()
        count = 0
        for args in commands:
            encode_command(args, out)
            count += 1
        self.pending += count
        try:
            await self.stream.send_all(out)
        except BaseException:
            self.broken = True
            raise

    async def read(self) -> Any:
        """The next reply (a ``ResponseError`` instance for an error reply)."""
        try:
            while True:
                reply = self.parser.next()
                if reply is NEED_MORE:
                    data = await self.stream.recv(65536)
                    if not data:
                        raise ConnectionLost("the server closed the connection")
                    self.parser.feed(data)
                    continue
                if type(reply) is PushMessage and self.pending:
                    # RESP3 out-of-band push in the middle of replies: keep it aside.
                    self.pushes.append(reply)
                    continue
                self.pending -= 1
                return reply
        except (trapline.BrokenResourceError, trapline.ClosedResourceError, OSError) as error:
            self.broken = True
            raise ConnectionLost(f"connection lost: {error}") from error
        except BaseException:
            self.broken = True  # cancelled mid-reply: the stream is out of step now
            raise

    async def call(self, *args: Any) -> Any:
        await self.send([args])
        reply = await self.read()
        if isinstance(reply, ResponseError):
            raise reply
        return reply

    async def aclose(self) -> None:
        self.broken = True
        with trapline.CancelScope(shield=True):
            await self.stream.aclose()


class KV(CommandsMixin):
    """A client: a bounded pool of connections to one server. Use ``connect()``."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379",
        *,
        decode_responses: bool = False,
        max_connections: int = 32,
        ssl_context: _ssl.SSLContext | None = None,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.address = Address.parse(url)
        self.decode_responses = decode_responses
        self.max_connections = max_connections
        self.ssl_context = ssl_context
        self._idle: list[Connection] = []
        self._in_use = 0
        self._waiting = ParkingLot("kv connection pool")
        self._closed = False

    def __repr__(self) -> str:
        where = self.address.path or f"{self.address.host}:{self.address.port}"
        return f"<trapline.kv.KV {where} db={self.address.db}>"

    # -- pool ----------------------------------------------------------------------------------

    async def _acquire(self) -> Connection:
        if self._closed:
            raise trapline.ClosedResourceError("this client was closed")
        while self._in_use >= self.max_connections:
            await self._waiting.park()
        self._in_use += 1
        try:
            while self._idle:
                conn = self._idle.pop()
                if not conn.broken:
                    await trapline.checkpoint()
                    return conn
                await conn.aclose()
            return await Connection.open(
                self.address, decode=self.decode_responses, ssl_context=self.ssl_context
            )
        except BaseException:
            self._release_slot()
            raise

    def _release_slot(self) -> None:
        self._in_use -= 1
        if self._waiting:
            self._waiting.unpark()

    async def _release(self, conn: Connection) -> None:
        if conn.broken or conn.pending or self._closed:
            await conn.aclose()
        else:
            self._idle.append(conn)
        self._release_slot()

    # -- commands ------------------------------------------------------------------------------

    async def execute(self, *args: Any) -> Any:
        """Send one command and return its reply.

        Checkpoint: yes. Raises ``ResponseError`` for an error reply, ``ConnectionLost`` if the
        connection dropped during the command (it may or may not have run; it is not retried).
        Cancellation: the connection is closed (its reply will never be read) and the command
        may or may not have run.
        """
        conn = await self._acquire()
        try:
            return await conn.call(*args)
        finally:
            await self._release(conn)

    def pipeline(self, *, transaction: bool = False) -> Pipeline:
        """Batch commands into one round trip: ``async with db.pipeline() as p: p.set(...)``.

        With ``transaction=True`` the batch runs in MULTI/EXEC (atomically)."""
        return Pipeline(self, transaction=transaction)

    async def transaction(self, *watch: str | bytes) -> Transaction:
        """Optimistic transaction: ``async with await db.transaction("k") as tx:`` WATCHes the
        keys on a dedicated connection; read with ``await tx.execute(...)``, queue writes with
        ``tx.queue(...)``; on exit EXEC runs them, raising ``WatchError`` if a key changed."""
        conn = await self._acquire()
        tx = Transaction(self, conn)
        try:
            if watch:
                await conn.call("WATCH", *watch)
        except BaseException:
            await self._release(conn)
            raise
        return tx

    async def subscribe(
        self, *channels: str | bytes, patterns: Iterable[str | bytes] = ()
    ) -> Subscription:
        """A dedicated connection subscribed to ``channels`` (and glob ``patterns``); iterate it
        with ``async for message in sub``. Close it with ``async with`` or ``aclose()``."""
        sub = Subscription(
            self,
            await Connection.open(
                self.address, decode=self.decode_responses, ssl_context=self.ssl_context
            ),
        )
        try:
            if channels:
                await sub.subscribe(*channels)
            patterns = list(patterns)
            if patterns:
                await sub.psubscribe(*patterns)
        except BaseException:
            await sub.aclose()
            raise
        return sub

    # -- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> KV:
        # Connect now so that a wrong address fails here, not at the first command.
        conn = await self._acquire()
        await self._release(conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every idle connection; connections in use close when released."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.aclose()


def connect(
    url: str = "redis://127.0.0.1:6379",
    *,
    decode_responses: bool = False,
    max_connections: int = 32,
    ssl_context: _ssl.SSLContext | None = None,
) -> KV:
    """A client for the server at ``url`` (``redis://[:password@]host:port/db``,
    ``rediss://`` for TLS, ``unix:///path?db=0``). Use ``async with connect(url) as db:``."""
    return KV(
        url,
        decode_responses=decode_responses,
        max_connections=max_connections,
        ssl_context=ssl_context,
    )


class Pipeline(CommandsMixin):
    """Queued commands sent in one write; ``await p.execute()`` (or leaving ``async with``)
    returns the replies in order. Error replies are returned in place, not raised, unless
    ``raise_on_error=True``."""

    def __init__(self, kv: KV, *, transaction: bool) -> None:
        self._kv = kv
        self._transaction = transaction
        self._commands: list[tuple[Any, ...]] = []
        self._transforms: list[Callable[[Any], Any] | None] = []
        self.results: list[Any] | None = None

    def __len__(self) -> int:
        return len(self._commands)

    async def _run(self, args: tuple[Any, ...], transform: Callable[[Any], Any] | None) -> Any:
        self._commands.append(args)
        self._transforms.append(transform)
        return self

    async def execute(self, *args: Any) -> Any:
        """Queue ``args`` (inside a pipeline, commands are queued, not sent)."""
        return await self._run(args, None)

    def queue(self, *args: Any) -> Pipeline:
        """Queue ``args``; returns the pipeline so calls can be chained."""
        self._commands.append(args)
        self._transforms.append(None)
        return self

    async def run(self, *, raise_on_error: bool = False) -> list[Any]:
        """Send everything queued; return the replies. Checkpoint: yes."""
        commands, self._commands = self._commands, []
        transforms, self._transforms = self._transforms, []
        if not commands:
            self.results = []
            return []
        kv = self._kv
        conn = await kv._acquire()
        try:
            if self._transaction:
                await conn.send([("MULTI",), *commands, ("EXEC",)])
                replies = [await conn.read() for _ in range(len(commands) + 2)]
                exec_reply = replies[-1]
                if isinstance(exec_reply, ResponseError):
                    raise exec_reply
                if exec_reply is None:
                    raise WatchError("a watched key changed; the transaction did not run")
                raw: list[Any] = exec_reply
            else:
                await conn.send(commands)
                raw = [await conn.read() for _ in commands]
        finally:
            await kv._release(conn)
        results: list[Any] = []
        for reply, transform in zip(raw, transforms, strict=True):
            if isinstance(reply, ResponseError):
                if raise_on_error:
                    raise reply
                results.append(reply)
            else:
                results.append(reply if transform is None else transform(reply))
        self.results = results
        return results

    async def __aenter__(self) -> Pipeline:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            await self.run()


class Transaction(CommandsMixin):
    """A WATCH/MULTI/EXEC transaction on one dedicated connection (see ``KV.transaction``)."""

    def __init__(self, kv: KV, conn: Connection) -> None:
        self._kv = kv
        self._conn = conn
        self._queued: list[tuple[Any, ...]] = []
        self.results: list[Any] | None = None

    async def execute(self, *args: Any) -> Any:
        """Run a command now (reads inside the transaction see the watched values)."""
        return await self._conn.call(*args)

    def queue(self, *args: Any) -> Transaction:
        """Queue a command to run atomically at EXEC."""
        self._queued.append(args)
        return self

    async def __aenter__(self) -> Transaction:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn = self._conn
        try:
            if exc_type is not None:
                await conn.call("UNWATCH")
                return
            await conn.send([("MULTI",), *self._queued, ("EXEC",)])
            replies = [await conn.read() for _ in range(len(self._queued) + 2)]
            results: list[Any] | None = replies[-1]
            if isinstance(results, ResponseError):
                raise results
            if results is None:
                raise WatchError("a watched key changed; the transaction did not run")
            self.results = results
        finally:
            await self._kv._release(conn)


class Subscription:
    """Messages from subscribed channels: ``async for message in sub`` yields dicts with
    ``type`` (``message``/``pmessage``), ``channel``, ``pattern`` and ``data``."""

    def __init__(self, kv: KV, conn: Connection) -> None:
        self._kv = kv
        self._conn = conn

    async def _command(self, name: str, items: tuple[Any, ...]) -> None:
        await self._conn.send([(name, *items)])
        # One confirmation per channel; they are messages, not replies, so read them raw.
        self._conn.pending -= 1
        for _ in range(max(len(items), 1)):
            self._conn.pending += 1
            await self._conn.read()

    async def subscribe(self, *channels: str | bytes) -> None:
        await self._command("SUBSCRIBE", channels)

    async def unsubscribe(self, *channels: str | bytes) -> None:
        await self._command("UNSUBSCRIBE", channels)

    async def psubscribe(self, *patterns: str | bytes) -> None:
        await self._command("PSUBSCRIBE", patterns)

    async def punsubscribe(self, *patterns: str | bytes) -> None:
        await self._command("PUNSUBSCRIBE", patterns)

    async def get_message(self) -> dict[str, Any]:
        """Wait for the next published message. Checkpoint: yes."""
        conn = self._conn
        while True:
            if conn.pushes:
                raw = conn.pushes.pop(0)
            else:
                conn.pending += 1
                raw = await conn.read()
            kind = raw[0].decode() if isinstance(raw[0], bytes) else raw[0]
            if kind == "message":
                return {"type": kind, "pattern": None, "channel": raw[1], "data": raw[2]}
            if kind == "pmessage":
                return {"type": kind, "pattern": raw[1], "channel": raw[2], "data": raw[3]}

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            yield await self.get_message()

    async def aclose(self) -> None:
        await self._conn.aclose()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

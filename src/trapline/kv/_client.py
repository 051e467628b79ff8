"""The trapline.kv client: ``async with trapline.kv.connect("redis://...") as db``.

It speaks RESP to trapline.kv and to real Redis alike, built on trapline's public API only.
``connect()`` returns a ``KV``: a ``StandaloneKV`` (one server, one pool of connections) or, for
``redis+cluster://`` URLs, a ``ClusterKV`` (see ``_cluster.py``). Both offer the same typed
command methods, ``execute()`` for anything else, ``scan`` iterators, pipelines, WATCH
transactions and subscriptions.

Every command borrows a pooled connection, sends, reads the reply and gives the connection
back. A connection whose reply was not read to the end (the command was cancelled, or the
connection dropped) is closed rather than reused, so replies never get mismatched with
commands and a cancelled blocking pop leaves nothing waiting on the server. Writes are never
retried: losing the connection during a command raises ``ConnectionLost`` and the caller
decides; the *next* command reconnects transparently.

Pipelines and transactions queue through the same typed methods (``p.set(k, v)`` returns a
``Queued`` placeholder), so there is one list of commands, not one per way of sending them.
"""

from __future__ import annotations

import ssl as _ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Generic, Literal, TypeVar, final, overload

from trapline.lowlevel import checkpoint_if_cancelled

from ._client_cmds import CommandsMixin
from ._client_cmds_base import Key, S, identity, option
from ._client_conn import Address, Connection, Options, Pool, PoolStatistics, parse_url
from ._client_pubsub import Subscription
from ._client_resp import ResponseError, WatchError

__all__ = [
    "KV",
    "KVStatistics",
    "Pipeline",
    "Queued",
    "StandaloneKV",
    "Subscription",
    "Transaction",
    "connect",
    "exec_transaction",
]

T = TypeVar("T")

# Commands that leave a connection in a state the next borrower would not expect.
_CONNECTION_STATE = frozenset(
    {"SELECT", "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "MONITOR", "MULTI", "WATCH", "HELLO"}
    | {"RESET", "QUIT", "AUTH"}
)


def _command_name(command: Any) -> str:
    if isinstance(command, bytes):
        return command.decode(errors="replace").upper()
    return str(command).upper()


@dataclass(frozen=True, slots=True)
class KVStatistics:
    """A client's pools by node address (one for a single server), and for a cluster the
    redirections followed and slot-map refreshes made."""

    pools: dict[str, PoolStatistics]
    moved: int = 0
    asked: int = 0
    slot_map_refreshes: int = 0
    nodes: tuple[str, ...] = field(default=())


class KV(CommandsMixin[S]):
    """A client: every typed command, ``execute()``, scans, pipelines, transactions and
    subscriptions. Get one from ``connect()``; use it as ``async with connect(url) as db:``.

    Safe to share between any number of tasks: each command borrows a pooled connection."""

    __slots__ = ("decode_responses", "options")

    def __init__(self, options: Options) -> None:
        self.options = options
        self.decode_responses = options.decode_responses

    # -- what a concrete client provides -------------------------------------------------------

    async def _call(self, args: tuple[Any, ...], transform: Callable[[Any], T]) -> T:
        raise NotImplementedError  # pragma: no cover

    async def _run_batch(self, commands: list[tuple[Any, ...]], transaction: bool) -> list[Any]:
        """Raw replies for ``commands``, error replies in place. Raises ``WatchError``."""
        raise NotImplementedError  # pragma: no cover

    async def _lend(self, keys: tuple[Key, ...]) -> tuple[Pool, Connection]:
        """A pooled connection for a transaction on ``keys``."""
        raise NotImplementedError  # pragma: no cover

    async def _dedicated(self) -> Connection:
        """A new connection outside the pools, for a subscription."""
        raise NotImplementedError  # pragma: no cover

    async def _open(self) -> None:
        raise NotImplementedError  # pragma: no cover

    def _note_error(self, error: ResponseError) -> None:
        """An error reply seen outside ``_call`` (in a transaction): a cluster client learns
        from MOVED that its slot map is stale."""

    def statistics(self) -> KVStatistics:
        raise NotImplementedError  # pragma: no cover

    async def aclose(self) -> None:
        """Close every idle connection; connections in use close when they come back.
        Checkpoint: yes; further commands raise ``ClosedResourceError``."""
        raise NotImplementedError  # pragma: no cover

    # -- commands ------------------------------------------------------------------------------

    def _run(self, args: tuple[Any, ...], transform: Callable[[Any], T]) -> Awaitable[T]:
        coro = self._call(args, transform)
        # Named for the command, so that a forgotten await reads "coroutine 'KV.set' was never
        # awaited" (and prints as one), not as the private _call every command goes through.
        name = args[0]
        command = name.lower() if isinstance(name, str) else name.decode().lower()
        coro.__qualname__ = f"KV.{command}"  # type: ignore[attr-defined]
        return coro

    async def execute(self, *args: Any) -> Any:
        """Send any command, return its reply (RESP types as Python values, unconverted).

        Checkpoint: yes. Raises ``ResponseError`` for an error reply, ``ConnectionLost`` if the
        connection dropped during the command (it may or may not have run; it is not retried).
        Cancellation closes the connection; the command may or may not have run. Do not change
        connection state this way (SELECT, CLIENT SETNAME, SUBSCRIBE, MULTI): the connection
        goes back to a shared pool. Use the URL's db, ``client_name=``, ``subscribe()`` and
        ``transaction()``; those commands raise ``ValueError`` here."""
        if args and _command_name(args[0]) in _CONNECTION_STATE:
            raise ValueError(
                f"{_command_name(args[0])} would change the state of one pooled connection: use "
                "the URL's /db, connect(client_name=...), db.subscribe() or db.transaction()"
            )
        return await self._call(args, identity)

    def pipeline(self, *, transaction: bool = False) -> Pipeline[S]:
        """Batch commands into one round trip::

            async with db.pipeline() as p:
                p.set("a", 1)
                p.incr("a")
            p.results  # [True, 2]

        With ``transaction=True`` the batch runs atomically in MULTI/EXEC."""
        return Pipeline(self, transaction=transaction)

    def transaction(self, *watch: Key) -> Transaction[S]:
        """An optimistic transaction on one connection, WATCHing ``watch``::

            async with db.transaction("balance") as tx:
                balance = int(await tx.get("balance") or 0)   # runs now
                tx.multi()
                tx.set("balance", balance + 10)               # queued for EXEC

        Leaving the block runs EXEC, raising ``WatchError`` if a watched key changed meanwhile
        (nothing ran); the replies are then in ``tx.results``."""
        return Transaction(self, watch)

    def subscribe(self, *channels: Key, patterns: tuple[Key, ...] = ()) -> Subscription[S]:
        """Messages published to ``channels`` (and glob ``patterns``), on a dedicated
        connection::

            async with db.subscribe("news", patterns=("user:*",)) as sub:
                async for message in sub:
                    print(message.channel, message.data)

        ``async for message in db.subscribe("news")`` also works; the connection closes when
        the loop ends."""
        return Subscription(self._dedicated, channels, patterns)

    # -- iteration -----------------------------------------------------------------------------

    async def _cursor(self, prefix: tuple[Any, ...], options: list[Any]) -> AsyncIterator[Any]:
        cursor: Any = 0
        while True:
            reply = await self.execute(*prefix, cursor, *options)
            cursor, items = reply[0], reply[1]
            for item in items:
                yield item
            if int(cursor) == 0:
                return

    def scan(
        self, *, match: Key | None = None, count: int | None = None, type: str | None = None
    ) -> AsyncIterator[S]:
        """``async for key in db.scan(match="user:*")``: every key, one SCAN round trip per
        batch of about ``count``. Each step is a checkpoint. A key present for the whole scan is
        seen at least once; one added or removed meanwhile may or may not be."""
        return self._cursor(
            ("SCAN",), [*option("MATCH", match), *option("COUNT", count), *option("TYPE", type)]
        )

    async def _pairs(self, prefix: tuple[Any, ...], options: list[Any]) -> AsyncIterator[Any]:
        first: Any = None
        have_first = False
        async for item in self._cursor(prefix, options):
            if have_first:
                yield first, item
                have_first = False
            else:
                first, have_first = item, True

    def hscan(
        self, key: Key, *, match: Key | None = None, count: int | None = None
    ) -> AsyncIterator[tuple[S, S]]:
        """``async for field, value in db.hscan(key)``: as ``scan``, over a hash."""
        return self._pairs(("HSCAN", key), [*option("MATCH", match), *option("COUNT", count)])

    def sscan(
        self, key: Key, *, match: Key | None = None, count: int | None = None
    ) -> AsyncIterator[S]:
        """``async for member in db.sscan(key)``: as ``scan``, over a set."""
        return self._cursor(("SSCAN", key), [*option("MATCH", match), *option("COUNT", count)])

    async def zscan(
        self, key: Key, *, match: Key | None = None, count: int | None = None
    ) -> AsyncIterator[tuple[S, float]]:
        """``async for member, score in db.zscan(key)``: as ``scan``, over a sorted set (each
        round trip a checkpoint)."""
        options = [*option("MATCH", match), *option("COUNT", count)]
        async for member, score in self._pairs(("ZSCAN", key), options):
            yield member, float(score)

    # -- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> KV[S]:
        """Connect now, so that a wrong address or password fails here, not at the first
        command. Checkpoint: yes. Raises ``OSError`` or ``ResponseError``."""
        try:
            await self._open()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


@final
class StandaloneKV(KV[S]):
    """A client of one server (``redis://``, ``rediss://``, ``unix://``): one bounded pool."""

    __slots__ = ("_pool", "address")

    def __init__(self, address: Address, options: Options, max_connections: int = 32) -> None:
        super().__init__(options)
        self.address = address
        self._pool = Pool(address, options, max_connections)

    def __repr__(self) -> str:
        return f"<trapline.kv.StandaloneKV {self.address} db={self.options.db}>"

    async def _call(self, args: tuple[Any, ...], transform: Callable[[Any], T]) -> T:
        # The hot path: one schedule point per command (waiting for the reply), not three.
        # An idle connection is taken without a checkpoint and the command written without
        # one; the cancel check first keeps "cancelled before it started: nothing sent".
        pool = self._pool
        await checkpoint_if_cancelled()
        conn = pool.acquire_nowait() or await pool.acquire()
        try:
            await conn.write((args,))
            reply = await conn.read()
        finally:
            pool.release(conn)
        if type(reply) is ResponseError:
            raise reply
        return transform(reply)

    async def _run_batch(self, commands: list[tuple[Any, ...]], transaction: bool) -> list[Any]:
        pool = self._pool
        await checkpoint_if_cancelled()
        conn = pool.acquire_nowait() or await pool.acquire()
        try:
            if transaction:
                return await exec_transaction(conn, commands)
            await conn.write(commands)
            return [await conn.read() for _ in commands]
        finally:
            pool.release(conn)

    async def _lend(self, keys: tuple[Key, ...]) -> tuple[Pool, Connection]:
        return self._pool, await self._pool.acquire()

    async def _dedicated(self) -> Connection:
        return await Connection.open(self.address, self.options)

    async def _open(self) -> None:
        self._pool.release(await self._pool.acquire())

    def statistics(self) -> KVStatistics:
        """The pool's ``PoolStatistics`` (connections open, in use, idle; tasks waiting)."""
        return KVStatistics({str(self.address): self._pool.statistics()})

    async def aclose(self) -> None:
        await self._pool.aclose()


async def exec_transaction(conn: Connection, commands: list[tuple[Any, ...]]) -> list[Any]:
    """MULTI, ``commands``, EXEC in one round trip: EXEC's replies, errors in place.

    Raises ``WatchError`` if a watched key changed, and EXECABORT's ``ResponseError`` (caused by
    the first command the server refused to queue) if nothing ran."""
    await conn.write([("MULTI",), *commands, ("EXEC",)])
    replies = [await conn.read() for _ in range(len(commands) + 2)]
    if isinstance(replies[0], ResponseError):
        raise replies[0]
    result = replies[-1]
    if isinstance(result, ResponseError):
        refused = [r for r in replies[1:-1] if isinstance(r, ResponseError)]
        raise result from (refused[0] if refused else None)
    if result is None:
        raise WatchError("a watched key changed: the transaction did not run")
    return list(result)


class _Batch:
    """Commands queued in one pipeline run, and afterwards their results."""

    __slots__ = ("commands", "results", "transforms")

    def __init__(self) -> None:
        self.commands: list[tuple[Any, ...]] = []
        self.transforms: list[Callable[[Any], Any]] = []
        self.results: list[Any] | None = None

    def add(self, args: tuple[Any, ...], transform: Callable[[Any], T]) -> Queued[T]:
        self.commands.append(args)
        self.transforms.append(transform)
        return Queued(self, len(self.commands) - 1)

    def finish(self, raw: list[Any], raise_on_error: bool) -> list[Any]:
        results: list[Any] = []
        for reply, transform in zip(raw, self.transforms, strict=True):
            if isinstance(reply, BaseException):
                if raise_on_error:
                    raise reply
                results.append(reply)
            else:
                results.append(transform(reply))
        self.results = results
        return results


@final
class Queued(Generic[T]):
    """A command queued in a pipeline or transaction. Once the batch has run, ``await`` it (or
    call ``result()``) for its reply; an error reply is raised then."""

    __slots__ = ("_batch", "_index")

    def __init__(self, batch: _Batch, index: int) -> None:
        self._batch = batch
        self._index = index

    def __repr__(self) -> str:
        return f"<Queued {self._batch.commands[self._index][0]!r} #{self._index}>"

    def result(self) -> T:
        """The reply; ``RuntimeError`` if the batch has not run yet. Not a checkpoint."""
        results = self._batch.results
        if results is None:
            raise RuntimeError(
                "this command is queued, not sent: its reply is available once the pipeline "
                "or transaction has run (do not await queued commands before that)"
            )
        value: T = results[self._index]
        if isinstance(value, BaseException):
            raise value
        return value

    def __await__(self) -> Generator[Any, None, T]:
        return self.result()
        yield  # a generator, so that ``await queued`` works (it never suspends)


@final
class Pipeline(CommandsMixin[S]):
    """Commands queued, then sent in one write with their replies read in one go.

    Typed methods and ``execute(*args)`` queue (no ``await``). ``await p.run()``, or leaving
    ``async with`` without an error, sends the batch and returns the replies in order, each
    transformed as its method says; error replies stay in place as ``ResponseError``
    instances unless ``raise_on_error=True``. A pipeline can be reused after it ran."""

    __slots__ = ("_batch", "_kv", "_transaction", "results")

    def __init__(self, kv: KV[S], *, transaction: bool) -> None:
        self._kv: KV[S] = kv
        self._transaction = transaction
        self._batch = _Batch()
        self.results: list[Any] | None = None

    def __len__(self) -> int:
        return len(self._batch.commands)

    def _run(self, args: tuple[Any, ...], transform: Callable[[Any], T]) -> Queued[T]:
        return self._batch.add(args, transform)

    def execute(self, *args: Any) -> Queued[Any]:
        """Queue any command (its reply unconverted). Not a checkpoint."""
        if not args:
            raise TypeError(
                "Pipeline.execute(*args) queues a command; send the batch with "
                "'await p.run()' or by leaving 'async with'"
            )
        return self._batch.add(args, identity)

    async def run(self, *, raise_on_error: bool = False) -> list[Any]:
        """Send everything queued and return the replies in order.

        Checkpoint: yes. Raises ``ConnectionLost`` if the connection dropped (some commands may
        have run), ``WatchError``/``ResponseError`` for a failed transaction, the first error
        reply with ``raise_on_error``. Cancellation closes the connection; some commands may
        have run."""
        batch, self._batch = self._batch, _Batch()
        raw = await self._kv._run_batch(batch.commands, self._transaction) if batch.commands else []
        self.results = batch.finish(raw, raise_on_error)
        return self.results

    async def __aenter__(self) -> Pipeline[S]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            await self.run()
        else:
            self._batch = _Batch()


@final
class Transaction(CommandsMixin[S]):
    """A WATCH/MULTI/EXEC transaction on one dedicated pooled connection (see
    ``KV.transaction``).

    Before ``multi()``, commands run at once (``await tx.get(k)``) and see the live data; after
    it they are queued (``tx.set(k, v)``) and run atomically when the ``async with`` block ends.
    If the block raises or ``discard()`` was called, nothing is queued to the server and the
    connection is reset (UNWATCH) or, after an error, closed."""

    __slots__ = ("_batch", "_conn", "_discarded", "_kv", "_pool", "_watch", "results")

    def __init__(self, kv: KV[S], watch: tuple[Key, ...]) -> None:
        self._kv: KV[S] = kv
        self._watch = watch
        self._pool: Pool | None = None
        self._conn: Connection | None = None
        self._batch: _Batch | None = None
        self._discarded = False
        self.results: list[Any] | None = None

    def _connection(self) -> Connection:
        if self._conn is None:
            raise RuntimeError(
                "use the transaction inside 'async with db.transaction(...) as tx:' (and only "
                "there: its connection goes back to the pool at the end of the block)"
            )
        return self._conn

    async def _now(self, args: tuple[Any, ...], transform: Callable[[Any], T]) -> T:
        reply = await self._connection().call(args)
        if isinstance(reply, ResponseError):
            self._kv._note_error(reply)
            raise reply
        return transform(reply)

    def _run(self, args: tuple[Any, ...], transform: Callable[[Any], T]) -> Awaitable[T]:
        if self._batch is None:
            return self._now(args, transform)
        return self._batch.add(args, transform)

    def execute(self, *args: Any) -> Awaitable[Any]:
        """Any command: run now before ``multi()``, queued after it."""
        return self._run(args, identity)

    async def watch(self, *keys: Key) -> None:
        """WATCH more keys (before ``multi()``). Checkpoint: yes."""
        if self._batch is not None:
            raise RuntimeError("WATCH must come before multi()")
        await self._now(("WATCH", *keys), identity)

    def multi(self) -> None:
        """From now on, queue commands for EXEC. Not a checkpoint (nothing is sent yet)."""
        self._connection()
        if self._batch is not None:
            raise RuntimeError("multi() was already called")
        self._batch = _Batch()

    def discard(self) -> None:
        """Give up: leaving the block runs nothing. Not a checkpoint."""
        self._discarded = True

    async def __aenter__(self) -> Transaction[S]:
        if self._conn is not None or self.results is not None:
            raise RuntimeError("a transaction can be entered only once")
        self._pool, self._conn = await self._kv._lend(self._watch)
        if self._watch:
            try:
                await self._now(("WATCH", *self._watch), identity)
            except BaseException:
                self._conn.broken = True
                self._pool.release(self._conn)
                raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, pool, batch = self._connection(), self._pool, self._batch
        assert pool is not None
        try:
            if exc_type is not None:
                conn.broken = True  # WATCH state and who knows what else: do not reuse
            elif batch is None or self._discarded:
                await self._now(("UNWATCH",), identity)
            else:
                try:
                    raw = await exec_transaction(conn, batch.commands)
                except ResponseError as error:
                    self._kv._note_error(error)
                    raise
                self.results = batch.finish(raw, raise_on_error=False)
        finally:
            self._conn = self._pool = self._batch = None  # the connection is the pool's again
            pool.release(conn)


@overload
def connect(
    url: str = ...,
    *,
    decode_responses: Literal[False] = False,
    protocol: Literal[2, 3] = 2,
    max_connections: int = 32,
    client_name: str | None = None,
    ssl_context: _ssl.SSLContext | None = None,
) -> KV[bytes]: ...
@overload
def connect(
    url: str = ...,
    *,
    decode_responses: Literal[True],
    protocol: Literal[2, 3] = 2,
    max_connections: int = 32,
    client_name: str | None = None,
    ssl_context: _ssl.SSLContext | None = None,
) -> KV[str]: ...
def connect(
    url: str = "redis://127.0.0.1:6379",
    *,
    decode_responses: bool = False,
    protocol: Literal[2, 3] = 2,
    max_connections: int = 32,
    client_name: str | None = None,
    ssl_context: _ssl.SSLContext | None = None,
) -> KV[Any]:
    """A client for ``url``; use it as ``async with trapline.kv.connect(url) as db:``.

    URLs: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` for TLS,
    ``unix:///path/to.sock?db=N``, and ``redis+cluster://host:port,host:port,...`` for Redis
    Cluster (any reachable node will do; the rest are discovered). Replies are ``bytes``, or
    ``str`` with ``decode_responses=True``. ``protocol=3`` speaks RESP3 (HELLO 3).
    ``max_connections`` bounds the pool (per node in a cluster). Not a checkpoint: nothing
    connects until ``async with`` (or the first command)."""
    if protocol not in (2, 3):
        raise ValueError("protocol must be 2 or 3")
    parsed = parse_url(url)
    options = Options(
        db=parsed.db,
        username=parsed.username,
        password=parsed.password,
        decode_responses=decode_responses,
        protocol=protocol,
        client_name=client_name,
        ssl_context=ssl_context,
    )
    if parsed.cluster:
        from ._cluster import ClusterKV

        return ClusterKV(parsed.addresses, options, max_connections)
    return StandaloneKV(parsed.addresses[0], options, max_connections)
